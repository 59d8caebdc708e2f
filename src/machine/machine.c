/*
 * machine.c: the machine process's server: the listening socket, one
 * serving thread per client connection (a call runs in the thread that
 * serves the caller's connection, as a system call runs in the caller's
 * task), the process table, the handles, and the releases the machine
 * learns of by epoll: a handle whose every client descriptor is closed
 * hangs up (the kernel's last fput, sgx_release()), a process that exits
 * makes its pidfd readable (the mmu_notifier release).
 *
 * The main thread runs sgx_machine_serve(): it accepts connections and
 * handles the epoll events; STATS with SGXP_STATS_QUIESCE handles them too
 * (under reap_lock), so that a client that closed its last descriptor and
 * then asks sees the release done.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/debug.h"
#include "machine/machine_internal.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

_Static_assert(SGXP_ERESTARTSYS == SGX_DRV_ERESTARTSYS, "one restart code");

/* --- Messages --------------------------------------------------------------- */

/* Sends one datagram with fds attached (nfds may be 0).  0 or -errno. */
static int send_msg(int fd, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SGXP_MAX_FDS)];
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(&cm.h), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

/* Receives one datagram and its descriptors (close-on-exec).  Returns its
 * length, 0 at the peer's hang-up, or -errno. */
static ssize_t recv_msg(int fd, void *buf, size_t len, int *fds, unsigned int *nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SGXP_MAX_FDS)];
	} cm;
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		unsigned int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (unsigned int i = 0; i < k; i++) {
			int d;

			memcpy(&d, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < SGXP_MAX_FDS)
				fds[(*nfds)++] = d;
			else
				close(d);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

static uint64_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_ino;
}

/* --- Handles ------------------------------------------------------------------ */

/* The handle whose client descriptor fd is a copy of, with a reference;
 * NULL for a descriptor that is no handle of this machine. */
static struct m_handle *handle_lookup(struct sgx_machine *m, int fd)
{
	struct m_handle *h;
	struct stat st;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return NULL;
	pthread_mutex_lock(&m->lock);
	for (h = m->handles; h; h = h->next)
		if (h->ino == (uint64_t)st.st_ino) {
			h->refs++;
			break;
		}
	pthread_mutex_unlock(&m->lock);
	return h;
}

static void handle_put(struct sgx_machine *m, struct m_handle *h)
{
	int refs;

	pthread_mutex_lock(&m->lock);
	refs = --h->refs;
	pthread_mutex_unlock(&m->lock);
	if (refs)
		return;
	if (h->encl)
		sgx_drv_put(h->encl);
	free(h);
}

/* The file's release: the handle leaves the table; the enclave file goes
 * with the last reference (a call may still hold one). */
static void handle_release(struct sgx_machine *m, struct m_handle *h)
{
	struct m_handle **pp;

	pthread_mutex_lock(&m->lock);
	for (pp = &m->handles; *pp && *pp != h; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = h->next;
	m->handles_released++;
	pthread_mutex_unlock(&m->lock);
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, h->mfd, NULL);
	close(h->mfd);
	h->mfd = -1;
	handle_put(m, h);
}

/* --- Processes ---------------------------------------------------------------- */

/* The process of a new connection: found by its pidfd's inode (pidfs
 * names a process, not a reusable number), else registered.  Takes the
 * connection's reference.  NULL when it cannot be identified. */
static struct m_proc *proc_get(struct sgx_machine *m, int conn_fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct m_proc *p;
	struct epoll_event ev;
	uint64_t ino;
	int pidfd = -1;

	if (getsockopt(conn_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return NULL;
	len = sizeof(pidfd);
	if (getsockopt(conn_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) || pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (pidfd < 0)
		return NULL;
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	ino = fd_ino(pidfd);
	pthread_mutex_lock(&m->lock);
	for (p = m->procs; p; p = p->next)
		if (!p->exited && p->pidfd_ino == ino && p->pid == cred.pid)
			break;
	if (p) {
		p->refs++;
		pthread_mutex_unlock(&m->lock);
		close(pidfd);
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pthread_mutex_unlock(&m->lock);
		close(pidfd);
		return NULL;
	}
	p->ev_type = M_EV_PROC;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->pidfd = pidfd;
	p->pidfd_ino = ino;
	p->refs = 2; /* the table's and this connection's */
	p->next = m->procs;
	m->procs = p;
	pthread_mutex_unlock(&m->lock);
	ev.events = EPOLLIN;
	ev.data.ptr = p;
	epoll_ctl(m->epfd, EPOLL_CTL_ADD, pidfd, &ev);
	return p;
}

/* Drops a reference; the caller holds m->lock. */
static void proc_put_locked(struct sgx_machine *m, struct m_proc *p)
{
	if (--p->refs)
		return;
	close(p->pidfd);
	free(p);
}

/* The process exited: it leaves the table (the mmu_notifier release: the
 * address-space lists will drop it here). */
static void proc_exited(struct sgx_machine *m, struct m_proc *p)
{
	struct m_proc **pp;

	epoll_ctl(m->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
	pthread_mutex_lock(&m->lock);
	for (pp = &m->procs; *pp && *pp != p; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = p->next;
	p->exited = true;
	m->processes_exited++;
	proc_put_locked(m, p);
	pthread_mutex_unlock(&m->lock);
}

/* Handles every epoll event already due, without waiting.  Context: takes
 * reap_lock. */
static void reap(struct sgx_machine *m, int timeout_ms)
{
	struct epoll_event evs[32];
	int n;

	pthread_mutex_lock(&m->reap_lock);
	n = epoll_wait(m->epfd, evs, 32, timeout_ms);
	for (int i = 0; i < n; i++) {
		int type = *(int *)evs[i].data.ptr;

		if (type == M_EV_HANDLE)
			handle_release(m, evs[i].data.ptr);
		else if (type == M_EV_PROC)
			proc_exited(m, evs[i].data.ptr);
	}
	pthread_mutex_unlock(&m->reap_lock);
	if (n == 32)
		reap(m, 0);
}

/* --- Requests ----------------------------------------------------------------- */

static void reply_init(struct sgxp_reply *r, const struct sgxp_hdr *req, size_t len)
{
	memset(r, 0, len);
	r->hdr.op = req->op;
	r->hdr.len = (uint32_t)len;
	r->hdr.seq = req->seq;
}

static int op_hello(struct m_conn *c, const struct sgxp_hdr *req, ssize_t len)
{
	struct sgxp_hello_reply r;

	struct sgx_machine_arena a;
	int fd = -1;

	reply_init(&r.r, req, sizeof(r));
	r.version = SGXP_VERSION;
	r.machine_pid = c->m->pid;
	r.arena_base = r.arena_size = r.cpu_size = 0;
	if (len < (ssize_t)sizeof(struct sgxp_hello)) {
		r.r.err = -EINVAL;
	} else if (sgx_machine_hw_arena(c->m->cpu, &a) == 0) {
		/* The processor's state, for the client's ENCLU (hw.c). */
		r.arena_base = (uint64_t)(uintptr_t)a.base;
		r.arena_size = a.size;
		r.cpu_size = a.cpu_size;
		fd = a.cpu_fd;
		r.r.nr_fds = 1;
	}
	return send_msg(c->fd, &r, sizeof(r), fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}

static int op_open(struct m_conn *c, const struct sgxp_hdr *req, ssize_t len)
{
	const struct sgxp_open *o = (const void *)req;
	struct sgx_machine *m = c->m;
	struct epoll_event ev;
	struct sgxp_reply r;
	struct m_handle *h = NULL;
	int sv[2] = { -1, -1 }, ret;

	reply_init(&r, req, sizeof(r));
	if (len < (ssize_t)sizeof(*o) ||
	    (o->device != SGXP_DEV_ENCLAVE && o->device != SGXP_DEV_PROVISION)) {
		r.err = -EINVAL;
		goto out_reply;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		r.err = -ENOMEM;
		goto out_reply;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		r.err = -errno;
		goto out_free;
	}
	if (o->device == SGXP_DEV_ENCLAVE) {
		ret = sgx_drv_open(m->drv, &h->encl);
		if (ret) {
			r.err = ret;
			goto out_close;
		}
	}
	h->ev_type = M_EV_HANDLE;
	h->mfd = sv[0];
	h->ino = fd_ino(sv[1]);
	h->device = o->device;
	h->open_flags = o->flags;
	h->refs = 1;
	pthread_mutex_lock(&m->lock);
	h->id = ++m->next_handle_id;
	r.val = (int64_t)h->id;
	h->next = m->handles;
	m->handles = h;
	pthread_mutex_unlock(&m->lock);
	/* Watched before the client has it: the last close is never missed.
	 * h is not touched after the unlock: once the client end is sent and
	 * closed here, the release may free it at any moment. */
	ev.events = EPOLLRDHUP;
	ev.data.ptr = h;
	epoll_ctl(m->epfd, EPOLL_CTL_ADD, sv[0], &ev);
	r.nr_fds = 1;
	ret = send_msg(c->fd, &r, sizeof(r), &sv[1], 1);
	/* Sent or not, the machine's copy goes: a handle never delivered
	 * hangs up at once and is released. */
	close(sv[1]);
	return ret;
out_close:
	close(sv[0]);
	close(sv[1]);
out_free:
	free(h);
out_reply:
	return send_msg(c->fd, &r, sizeof(r), NULL, 0);
}

static int op_ioctl(struct m_conn *c, const struct sgxp_hdr *req, ssize_t len, int *fds,
		    unsigned int nfds)
{
	const struct sgxp_ioctl *io = (const void *)req;
	struct sgx_machine *m = c->m;
	struct m_call call;
	struct sgx_drv_user u;
	struct sgxp_reply r;
	struct m_handle *h = NULL;

	reply_init(&r, req, sizeof(r));
	if (len < (ssize_t)sizeof(*io) || nfds < 1) {
		r.err = -EINVAL;
		goto out;
	}
	h = handle_lookup(m, fds[0]);
	if (!h) {
		/* Not a handle: the runtime hands the call to the real ioctl. */
		r.err = -EBADF;
		goto out;
	}
	if (h->device != SGXP_DEV_ENCLAVE) {
		/* /dev/sgx_provision has no ioctls. */
		r.err = -ENOTTY;
		goto out;
	}
	memset(&call, 0, sizeof(call));
	call.conn = c;
	call.pid = c->proc->pid;
	call.seq = req->seq;
	if ((io->flags & SGXP_IOCTL_AUX_FD) && nfds >= 2) {
		struct m_handle *aux = handle_lookup(m, fds[1]);

		call.aux_valid = true;
		call.aux_fd = (uint64_t)(int64_t)io->aux_fd;
		call.aux_is_provision = aux && aux->device == SGXP_DEV_PROVISION;
		if (aux)
			handle_put(m, aux);
	}
	m_call_user(&call, &u);
	r.err = (int32_t)sgx_drv_ioctl(h->encl, (uint32_t)io->cmd, io->arg, &u);
	if (call.cancelled) {
		pthread_mutex_lock(&m->lock);
		m->cancels++;
		pthread_mutex_unlock(&m->lock);
	}
out:
	if (h)
		handle_put(m, h);
	/* The copies of the descriptors go before the reply, so that a
	 * client that closes its own next finds the release done when it
	 * asks (the handle's hang-up needs every copy closed). */
	close_fds(fds, nfds);
	return send_msg(c->fd, &r, sizeof(r), NULL, 0);
}

/* The core's paging counters in detail, EWB's retries by cause. */
static void fill_stats_paging(const struct sgx_core_stats *cs, struct sgxp_machine_stats *st)
{
	st->secs_written_back = cs->secs_written_back;
	st->secs_loaded = cs->secs_loaded;
	st->core_faults = cs->faults;
	st->core_faults_loaded = cs->faults_loaded;
	st->ewb_retry_etrack = cs->ewb_retry_etrack;
	st->ewb_retry_ipi = cs->ewb_retry_ipi;
	st->ewb_gave_up = cs->ewb_gave_up;
	st->ewb_failures = cs->ewb_failures;
	st->ewb_etracks = cs->ewb_etracks;
	st->ewb_kicks = cs->ewb_kicks;
	st->backing_limit_hits = cs->backing_limit_hits;
	st->age_hits = cs->age_hits;
	st->age_misses = cs->age_misses;
	st->reclaim_batches = cs->reclaim_batches;
	st->direct_reclaims = cs->direct_reclaims;
	st->nr_nodes = cs->nr_nodes;
	st->va_policy = cs->va_policy;
}

static void fill_stats(struct sgx_machine *m, bool quiescent, struct sgxp_machine_stats *st)
{
	struct sgx_core_stats cs;
	struct sgx_drv_stats ds;
	struct m_handle *h;
	struct m_proc *p;
	char why[256];

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->machine_pid = (uint64_t)m->pid;
	sgx_core_stats(m->core, &cs);
	st->epc_total = cs.epc_total;
	st->epc_free = cs.epc_free;
	st->epc_poisoned = cs.epc_poisoned;
	st->epc_leaked = cs.epc_leaked;
	st->epcm_valid = sgx_cpu_nr_valid(m->cpu);
	st->enclaves = cs.enclaves;
	st->lru_pages = cs.lru_pages;
	st->backing_limit = cs.backing_limit;
	st->backing_charged = cs.backing_charged;
	st->va_pages = cs.va_pages;
	st->va_slots_used = cs.va_slots_used;
	st->pages_written_back = cs.pages_written_back;
	st->pages_loaded = cs.pages_loaded;
	st->load_failures = cs.load_failures;
	sgx_drv_stats(m->drv, &ds);
	st->encl_files = ds.files;
	st->ioctls = ds.ioctls;
	st->ioctl_busy = ds.ioctl_busy;
	pthread_mutex_lock(&m->lock);
	for (h = m->handles; h; h = h->next) {
		st->handles++;
		if (h->device == SGXP_DEV_PROVISION)
			st->provision_handles++;
	}
	for (p = m->procs; p; p = p->next)
		st->processes++;
	st->connections = m->nr_conns;
	st->cancels = m->cancels;
	st->processes_exited = m->processes_exited;
	st->handles_released = m->handles_released;
	pthread_mutex_unlock(&m->lock);
	if (quiescent)
		st->core_check = sgx_core_check(m->core, true, why, sizeof(why));
	fill_stats_paging(&cs, st);
}

/* Waits (at most 2 s) until no connection of an exited process is left:
 * their threads see the hang-up at once, but run on their own time. */
static void wait_dead_conns(struct sgx_machine *m)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		bool dead = false;

		for (struct m_conn *c = m->conns; c; c = c->next)
			if (c->proc->exited)
				dead = true;
		if (!dead || pthread_cond_timedwait(&m->cond, &m->lock, &until))
			break;
	}
	pthread_mutex_unlock(&m->lock);
}

static int op_stats(struct m_conn *c, const struct sgxp_hdr *req, ssize_t len)
{
	const struct sgxp_stats *s = (const void *)req;
	struct sgx_machine *m = c->m;
	struct sgxp_stats_reply r;
	bool quiesce = len >= (ssize_t)sizeof(*s) && (s->flags & SGXP_STATS_QUIESCE);

	reply_init(&r.r, req, sizeof(r));
	if (quiesce) {
		reap(m, 0);
		wait_dead_conns(m);
		reap(m, 0);
		sgx_core_quiesce(m->core);
	}
	fill_stats(m, quiesce, &r.st);
	return send_msg(c->fd, &r, sizeof(r), NULL, 0);
}

static int op_stats_list(struct m_conn *c, const struct sgxp_hdr *req, ssize_t len)
{
	uint64_t buf[SGXP_MAX_MSG / 8];
	size_t n = m_stats_list(c->m, req, len, buf, sizeof(buf));

	return send_msg(c->fd, buf, n, NULL, 0);
}

/* --- Connections -------------------------------------------------------------- */

static void conn_end(struct m_conn *c)
{
	struct sgx_machine *m = c->m;
	struct m_conn **pp;

	pthread_mutex_lock(&m->lock);
	for (pp = &m->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	m->nr_conns--;
	if (c->proc)
		proc_put_locked(m, c->proc);
	close(c->fd);
	free(c);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void *conn_thread(void *arg)
{
	struct m_conn *c = arg;
	uint64_t buf[SGXP_MAX_MSG / 8];
	int fds[SGXP_MAX_FDS];
	unsigned int nfds;

	for (;;) {
		const struct sgxp_hdr *h = (const void *)buf;
		ssize_t n = recv_msg(c->fd, buf, sizeof(buf), fds, &nfds);
		int ret;

		if (n <= 0)
			break;
		if (n < (ssize_t)sizeof(*h)) {
			close_fds(fds, nfds);
			continue;
		}
		switch (h->op) {
		case SGXP_HELLO:
			ret = op_hello(c, h, n);
			break;
		case SGXP_OPEN:
			ret = op_open(c, h, n);
			break;
		case SGXP_IOCTL:
			ret = op_ioctl(c, h, n, fds, nfds);
			nfds = 0;
			break;
		case SGXP_STATS:
			ret = op_stats(c, h, n);
			break;
		case SGXP_STATS_LIST:
			ret = op_stats_list(c, h, n);
			break;
		case SGXP_CANCEL:
			/* After its call's reply: nothing left to stop. */
			ret = 0;
			break;
		default: {
			struct sgxp_reply r;

			reply_init(&r, h, sizeof(r));
			r.err = -ENOSYS;
			ret = send_msg(c->fd, &r, sizeof(r), NULL, 0);
			break;
		}
		}
		close_fds(fds, nfds);
		if (ret)
			break;
	}
	conn_end(c);
	return NULL;
}

static void conn_start(struct sgx_machine *m, int fd)
{
	struct m_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;

	if (!c) {
		close(fd);
		return;
	}
	c->m = m;
	c->fd = fd;
	c->proc = proc_get(m, fd);
	if (!c->proc) {
		close(fd);
		free(c);
		return;
	}
	pthread_mutex_lock(&m->lock);
	c->next = m->conns;
	m->conns = c;
	m->nr_conns++;
	pthread_mutex_unlock(&m->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_thread, c))
		conn_end(c);
	pthread_attr_destroy(&attr);
}

/* --- The socket --------------------------------------------------------------- */

/* Binds path, replacing only a stale socket (one nobody listens on). */
static int bind_path(struct sgx_machine *m, char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
	int fd, ret;

	if (strlen(m->cfg.socket_path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "%s: path too long for a unix socket", m->cfg.socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, m->cfg.socket_path);
	strcpy(m->path, m->cfg.socket_path);
	if (lstat(m->path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, why_len, "%s exists and is not a socket", m->path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return -errno;
		ret = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
		close(probe);
		if (ret != ECONNREFUSED) {
			snprintf(why, why_len, "%s: %s", m->path,
				 ret ? strerror(ret) : "a machine is serving there");
			return ret ? -ret : -EADDRINUSE;
		}
		/* A stale socket of a machine that is gone. */
		if (unlink(m->path)) {
			ret = -errno;
			snprintf(why, why_len, "%s: cannot remove the stale socket: %s", m->path,
				 strerror(-ret));
			return ret;
		}
	} else if (errno != ENOENT) {
		ret = -errno;
		snprintf(why, why_len, "%s: %s", m->path, strerror(-ret));
		return ret;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* With a mode asked for, the file is made private first and then
	 * given that mode, so it is never more open than asked. */
	old_umask = m->cfg.socket_mode ? umask(0077) : 0;
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (m->cfg.socket_mode)
		umask(old_umask);
	if (!ret && m->cfg.socket_mode && chmod(m->path, m->cfg.socket_mode & 0777))
		ret = -errno;
	if (!ret && lstat(m->path, &st))
		ret = -errno;
	if (!ret && listen(fd, 128))
		ret = -errno;
	if (ret) {
		snprintf(why, why_len, "%s: %s", m->path, strerror(-ret));
		close(fd);
		return ret;
	}
	m->path_made = true;
	m->path_dev = st.st_dev;
	m->path_ino = st.st_ino;
	m->listen_fd = fd;
	return 0;
}

int sgx_machine_create(const struct sgx_machine_config *cfg, struct sgx_machine **out,
		       char *why, size_t why_len)
{
	struct sgx_machine *m;
	char dummy[8];
	int ret;

	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	why[0] = 0;
	if (!cfg || !cfg->socket_path || !cfg->socket_path[0])
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	m->listen_fd = -1;
	m->pid = getpid();
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->reap_lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = sgx_machine_hw_create(cfg, &m->cpu, &m->core);
	if (ret) {
		snprintf(why, why_len, "cannot make the emulated machine: %s", strerror(-ret));
		goto err_epoll;
	}
	ret = sgx_drv_create(m->core, &m->drv);
	if (ret)
		goto err_hw;
	ret = bind_path(m, why, why_len);
	if (ret)
		goto err_drv;
	*out = m;
	return 0;
err_drv:
	sgx_drv_destroy(m->drv);
err_hw:
	sgx_machine_hw_destroy(m->cpu, m->core);
err_epoll:
	close(m->epfd);
err_free:
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->reap_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return ret;
}

/* The end of serving: every client told, every call ended, every handle
 * and process let go. */
static void stop_all(struct sgx_machine *m)
{
	struct sgxp_hdr bye = { .op = SGXP_SHUTDOWN, .len = sizeof(bye) };
	struct m_handle *h;
	struct m_proc *p;

	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	for (struct m_conn *c = m->conns; c; c = c->next) {
		(void)send(c->fd, &bye, sizeof(bye), MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(c->fd, SHUT_RDWR);
	}
	while (m->nr_conns)
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_lock(&m->reap_lock);
	while ((h = m->handles))
		handle_release(m, h);
	while ((p = m->procs))
		proc_exited(m, p);
	pthread_mutex_unlock(&m->reap_lock);
}

int sgx_machine_serve(struct sgx_machine *m, int stop_fd)
{
	struct pollfd pf[3] = {
		{ .fd = m->listen_fd, .events = POLLIN },
		{ .fd = m->epfd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	int ret = 0;

	for (;;) {
		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (pf[2].revents)
			break;
		if (pf[1].revents)
			reap(m, 0);
		if (pf[0].revents & POLLIN) {
			int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				conn_start(m, fd);
		}
	}
	stop_all(m);
	return ret;
}

int sgx_machine_destroy(struct sgx_machine *m)
{
	struct sgx_core_stats st;
	struct stat now;
	int ret = 0;

	if (!m)
		return 0;
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	/* Remove the socket only if it is still the file this machine made. */
	if (m->path_made && lstat(m->path, &now) == 0 && now.st_dev == m->path_dev &&
	    now.st_ino == m->path_ino)
		unlink(m->path);
	sgx_core_quiesce(m->core);
	if (sgx_core_check(m->core, true, NULL, 0) || sgx_core_stats(m->core, &st) ||
	    st.enclaves || st.backing_charged ||
	    st.epc_free + st.epc_poisoned + st.epc_leaked != st.epc_total)
		ret = -EUCLEAN;
	sgx_drv_destroy(m->drv);
	sgx_machine_hw_destroy(m->cpu, m->core);
	close(m->epfd);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->reap_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return ret;
}

int sgx_machine_run(const struct sgx_machine_config *cfg, int stop_fd, int ready_fd, char *why,
		    size_t why_len)
{
	struct sgx_machine *m;
	int ret, ret2;

	ret = sgx_machine_create(cfg, &m, why, why_len);
	if (ret)
		return ret;
	if (ready_fd >= 0) {
		char c = 1;

		if (write(ready_fd, &c, 1) != 1) {
			/* Whoever waits will see the pipe close instead. */
		}
	}
	ret = sgx_machine_serve(m, stop_fd);
	ret2 = sgx_machine_destroy(m);
	if (!ret && ret2 && why)
		snprintf(why, why_len, "pages, charges or enclaves were left at the end");
	return ret ? ret : ret2;
}
