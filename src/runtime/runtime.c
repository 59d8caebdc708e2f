/*
 * runtime.c: handle calls of the client runtime (runtime.h): connections
 * to the machine (one per thread), the request/reply exchange with its
 * signal handling, open/ioctl/close, and the private machine.
 *
 * A call's wait.  The thread blocks every signal for the exchange, as a
 * system call defers signals until it returns, and watches a signalfd of
 * the signals its own mask lets through next to its connection.  When one
 * is pending it sends CANCEL (the kernel's signal_pending() for the
 * machine) and waits for the reply, which the machine sends as soon as
 * the call can stop; the mask is then restored, so the signal is
 * delivered when the call returns, as on return from a system call.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sgxemu/proto.h"
#include "sgxemu/rt_enclu.h"
#include "sgxemu/runtime.h"
#include "sgxemu/uapi_sgx.h"

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

/* --- Process-wide state --------------------------------------------------- */

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static char *rt_path; /* guarded by rt_lock */
static bool rt_path_read; /* SGXEMU_MACHINE looked at */
static pid_t rt_private_pid = -1;
static char rt_private_dir[64];
/* Bumped in a forked child: connections of another generation are the
 * parent's and are not used. */
static _Atomic uint64_t rt_generation = 1;
static _Atomic pid_t rt_ptracer_for; /* the process that granted ptrace */
static atomic_bool rt_dead_reported;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;
static pthread_key_t rt_key;

struct rt_conn {
	int fd;
	int sigfd;
	uint64_t gen;
	uint64_t seq;
};

static __thread struct rt_conn rt_tls = { -1, -1, 0, 0 };

static void rt_conn_close(struct rt_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->sigfd >= 0)
		close(c->sigfd);
	c->fd = c->sigfd = -1;
}

static void rt_thread_exit(void *p)
{
	rt_conn_close(p);
}

/* In the child of fork: the inherited connection is the parent's. */
static void rt_atfork_child(void)
{
	atomic_fetch_add(&rt_generation, 1);
	rt_conn_close(&rt_tls);
	rt_private_pid = -1;
}

static void rt_init(void)
{
	pthread_key_create(&rt_key, rt_thread_exit);
	pthread_atfork(NULL, NULL, rt_atfork_child);
}

/* A copy of the machine's path, or NULL when none is named. */
static char *rt_path_dup(void)
{
	char *p = NULL;

	pthread_mutex_lock(&rt_lock);
	if (!rt_path_read) {
		const char *env = getenv("SGXEMU_MACHINE");

		rt_path_read = true;
		if (env && env[0] && !rt_path)
			rt_path = strdup(env);
	}
	if (rt_path)
		p = strdup(rt_path);
	pthread_mutex_unlock(&rt_lock);
	return p;
}

int sgxrt_set_machine(const char *socket_path)
{
	char *p = NULL;

	if (socket_path && !(p = strdup(socket_path))) {
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&rt_lock);
	free(rt_path);
	rt_path = p;
	rt_path_read = true;
	pthread_mutex_unlock(&rt_lock);
	if (p)
		setenv("SGXEMU_MACHINE", p, 1);
	else
		unsetenv("SGXEMU_MACHINE");
	/* This thread's connection, if any, was to the old machine. */
	rt_conn_close(&rt_tls);
	return 0;
}

const char *sgxrt_machine_path(void)
{
	const char *p;

	free(rt_path_dup()); /* reads SGXEMU_MACHINE once */
	pthread_mutex_lock(&rt_lock);
	p = rt_path;
	pthread_mutex_unlock(&rt_lock);
	return p;
}

/* The machine is gone: the call fails with EIO, and the process is told
 * once why.  Printing is the runtime's only output: it stands in for the
 * kernel's log, without which a program would see EIO and nothing more. */
static int rt_dead(const char *why)
{
	if (!atomic_exchange(&rt_dead_reported, true)) {
		char *p = rt_path_dup();

		fprintf(stderr, "sgxemu runtime: the machine at %s %s; SGX calls fail with EIO\n",
			p ? p : "(none)", why);
		free(p);
	}
	rt_conn_close(&rt_tls);
	return -EIO;
}

/* --- Messages --------------------------------------------------------------- */

static int rt_send(int fd, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SGXP_MAX_FDS)];
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(&cm.h), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* One datagram: its length, 0 at hang-up, or -errno.  At most one
 * descriptor is kept (the first); close-on-exec is set on it. */
static ssize_t rt_recv(int fd, void *buf, size_t len, int *rfd)
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

	*rfd = -1;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
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
			if (*rfd < 0)
				*rfd = d;
			else
				close(d);
		}
	}
	return n;
}

/* Whether sig, pending, would do anything when delivered: signals that
 * are ignored (by SIG_IGN or by default) do not interrupt a call. */
static bool rt_sig_counts(int sig, bool *restart)
{
	struct sigaction sa;

	if (sigaction(sig, NULL, &sa))
		return false;
	if (sa.sa_handler == SIG_IGN)
		return false;
	if (sa.sa_handler == SIG_DFL)
		return !(sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT);
	if (!(sa.sa_flags & SA_RESTART))
		*restart = false;
	return true;
}

/*
 * Sends req (with fds) and waits for its reply, holding signals as
 * described at the top.  Returns 0 with reply filled (its err the call's
 * answer), -EIO when the machine is gone, -EINTR when the machine asked
 * for a restart that a signal's handler does not allow, or another -errno.
 * *rfd receives a descriptor the reply carried (else -1).
 */
static int rt_exchange(struct rt_conn *c, struct sgxp_hdr *req, size_t len, const int *fds,
		       unsigned int nfds, void *reply, size_t reply_len, int *rfd);

/*
 * The machine's processor state, mapped where the machine has it (the
 * arena: proto.h, HELLO), once per process: a child of fork() shares the
 * parent's mapping.  Then the ENCLU handlers (rt_enclu.h) run on it.
 * -EADDRINUSE, with a message, when this process already uses that range.
 */
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static struct sgx_cpu *_Atomic rt_cpu;
static pthread_mutex_t rt_arena_lock = PTHREAD_MUTEX_INITIALIZER;

static int rt_arena_attach(const struct sgxp_hello_reply *r, int fd)
{
	struct sgx_cpu *cpu = NULL;
	void *base = (void *)(uintptr_t)r->arena_base;
	int ret = 0;

	if (!r->arena_base || fd < 0 || atomic_load(&rt_cpu))
		return 0;
	pthread_mutex_lock(&rt_arena_lock);
	if (atomic_load(&rt_cpu))
		goto out;
	if (mmap(base, r->arena_size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0) != base) {
		fprintf(stderr,
			"sgxemu: the machine's shared range %#llx-%#llx is in use in this process; "
			"enclave entry is not possible\n",
			(unsigned long long)r->arena_base,
			(unsigned long long)(r->arena_base + r->arena_size));
		ret = -EADDRINUSE;
		goto out;
	}
	if (mmap(base, r->cpu_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != base ||
	    sgx_cpu_attach(base, &cpu) || sgxrt_enclu_init(cpu)) {
		munmap(base, r->arena_size);
		ret = -EIO;
		goto out;
	}
	atomic_store(&rt_cpu, cpu);
out:
	pthread_mutex_unlock(&rt_arena_lock);
	return ret;
}

struct sgx_cpu *sgxrt_machine_cpu(void)
{
	return atomic_load(&rt_cpu);
}

static int rt_connect(struct rt_conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sgxp_hello hello = { .hdr = { .op = SGXP_HELLO, .len = sizeof(hello) },
				    .version = SGXP_VERSION };
	struct sgxp_hello_reply r;
	sigset_t none;
	char *path;
	int ret, rfd;

	pthread_once(&rt_once, rt_init);
	path = rt_path_dup();
	if (!path)
		return -ENOENT;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		free(path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	free(path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = errno;
		rt_conn_close(c);
		return rt_dead(ret == ENOENT || ret == ECONNREFUSED ? "does not answer"
								    : "cannot be reached");
	}
	sigemptyset(&none);
	c->sigfd = signalfd(-1, &none, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sigfd < 0) {
		ret = -errno;
		rt_conn_close(c);
		return ret;
	}
	c->gen = atomic_load(&rt_generation);
	pthread_setspecific(rt_key, c);
	ret = rt_exchange(c, &hello.hdr, sizeof(hello), NULL, 0, &r, sizeof(r), &rfd);
	if (ret)
		return ret;
	if (r.r.err || r.version != SGXP_VERSION) {
		if (rfd >= 0)
			close(rfd);
		rt_conn_close(c);
		return rt_dead("speaks another protocol version");
	}
	ret = rt_arena_attach(&r, rfd);
	if (rfd >= 0)
		close(rfd);
	if (ret) {
		rt_conn_close(c);
		return ret;
	}
	/* Where Yama restricts ptrace, the machine may read this process's
	 * memory (its copy_from_user) only when allowed to.  No Yama: EINVAL,
	 * and nothing is needed. */
	if (atomic_load(&rt_ptracer_for) != getpid()) {
		(void)prctl(PR_SET_PTRACER, (unsigned long)r.machine_pid, 0, 0, 0);
		atomic_store(&rt_ptracer_for, getpid());
	}
	return 0;
}

/* This thread's connection, made on first use (and again after fork). */
static int rt_conn_get(struct rt_conn **out)
{
	struct rt_conn *c = &rt_tls;
	int ret;

	if (c->fd >= 0 && c->gen == atomic_load(&rt_generation)) {
		*out = c;
		return 0;
	}
	rt_conn_close(c);
	ret = rt_connect(c);
	if (ret)
		return ret;
	*out = c;
	return 0;
}

static int rt_exchange(struct rt_conn *c, struct sgxp_hdr *req, size_t len, const int *fds,
		       unsigned int nfds, void *reply, size_t reply_len, int *rfd)
{
	uint64_t buf[SGXP_MAX_MSG / 8];
	sigset_t all, old, watch;
	bool cancelled = false, restart = true;
	int ret;

	*rfd = -1;
restart_call:
	req->seq = ++c->seq;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The signals this thread's own mask lets through. */
	sigfillset(&watch);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&old, s) == 1 || s == SIGKILL || s == SIGSTOP)
			sigdelset(&watch, s);
	signalfd(c->sigfd, &watch, SFD_CLOEXEC | SFD_NONBLOCK);
	cancelled = false;
	restart = true;
	ret = rt_send(c->fd, req, len, fds, nfds);
	if (ret) {
		ret = rt_dead("is gone (the connection is closed)");
		goto out;
	}
	for (;;) {
		struct pollfd pf[2] = { { .fd = c->fd, .events = POLLIN },
					{ .fd = c->sigfd, .events = POLLIN } };
		const struct sgxp_reply *r = (const void *)buf;
		ssize_t n;
		int fd;

		if (poll(pf, cancelled ? 1 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (!cancelled && (pf[1].revents & POLLIN)) {
			sigset_t pend;
			bool counts = false;

			sigpending(&pend);
			for (int s = 1; s < NSIG; s++) {
				if (sigismember(&watch, s) != 1 || sigismember(&pend, s) != 1)
					continue;
				if (rt_sig_counts(s, &restart))
					counts = true;
				else
					sigdelset(&watch, s); /* ignored: stop watching it */
			}
			if (counts) {
				struct sgxp_cancel cx = { .hdr = { .op = SGXP_CANCEL,
								   .len = sizeof(cx),
								   .seq = req->seq } };

				cancelled = true;
				if (rt_send(c->fd, &cx, sizeof(cx), NULL, 0)) {
					ret = rt_dead("is gone (the connection is closed)");
					goto out;
				}
			} else {
				signalfd(c->sigfd, &watch, SFD_CLOEXEC | SFD_NONBLOCK);
			}
		}
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = rt_recv(c->fd, buf, sizeof(buf), &fd);
		if (n == -EAGAIN)
			continue;
		if (n <= 0) {
			ret = rt_dead(n == 0 || n == -ECONNRESET ? "is gone" : "cannot be read");
			goto out;
		}
		if (n < (ssize_t)sizeof(struct sgxp_hdr)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (r->hdr.op == SGXP_SHUTDOWN) {
			if (fd >= 0)
				close(fd);
			ret = rt_dead("stopped");
			goto out;
		}
		if (r->hdr.seq != req->seq || n < (ssize_t)sizeof(*r)) {
			if (fd >= 0)
				close(fd);
			continue; /* not this call's */
		}
		memset(reply, 0, reply_len);
		memcpy(reply, buf, (size_t)n < reply_len ? (size_t)n : reply_len);
		*rfd = fd;
		ret = 0;
		break;
	}
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret && ((const struct sgxp_reply *)reply)->err == -SGXP_ERESTARTSYS) {
		/* The held signals were delivered at the unmask above. */
		if (!cancelled || restart)
			goto restart_call;
		ret = -EINTR;
	}
	return ret;
}

/* --- Handle calls ------------------------------------------------------------- */

static int rt_fail(int err)
{
	errno = -err;
	return -1;
}

int sgxrt_open(const char *path, int flags)
{
	struct sgxp_open o = { .hdr = { .op = SGXP_OPEN, .len = sizeof(o) } };
	struct sgxp_reply r;
	struct rt_conn *c;
	int ret, fd;

	if (!path)
		return rt_fail(-EFAULT);
	if (!strcmp(path, "/dev/sgx_enclave") || !strcmp(path, "/dev/sgx/enclave"))
		o.device = SGXP_DEV_ENCLAVE;
	else if (!strcmp(path, "/dev/sgx_provision") || !strcmp(path, "/dev/sgx/provision"))
		o.device = SGXP_DEV_PROVISION;
	else
		return rt_fail(-ENOENT);
	o.flags = (uint32_t)flags;
	ret = rt_conn_get(&c);
	if (ret)
		return rt_fail(ret);
	ret = rt_exchange(c, &o.hdr, sizeof(o), NULL, 0, &r, sizeof(r), &fd);
	if (ret)
		return rt_fail(ret);
	if (r.err) {
		if (fd >= 0)
			close(fd);
		return rt_fail(r.err);
	}
	if (fd < 0)
		return rt_fail(-EIO);
	if (!(flags & O_CLOEXEC))
		fcntl(fd, F_SETFD, 0);
	return fd;
}

/* Reads len bytes at addr of this process without faulting on a bad
 * address: 0 or -EFAULT. */
static int rt_read_self(void *dst, const void *addr, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)addr, len };

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

int sgxrt_ioctl(int fd, unsigned long request, void *arg)
{
	struct sgxp_ioctl io = { .hdr = { .op = SGXP_IOCTL, .len = sizeof(io) } };
	struct sgxp_reply r;
	struct rt_conn *c;
	struct stat st;
	int fds[2] = { fd, -1 }, nfds = 1, ret, rfd;

	if (fstat(fd, &st))
		return -1; /* EBADF, as ioctl() */
	if (!S_ISSOCK(st.st_mode))
		return ioctl(fd, request, arg);
	io.cmd = (uint32_t)request;
	io.arg = (uint64_t)(uintptr_t)arg;
	if ((uint32_t)request == SGX_IOC_ENCLAVE_PROVISION) {
		struct sgx_enclave_provision p;

		/* The descriptor the argument names goes along, so the
		 * machine can tell what it is (the kernel's fget()). */
		if (!rt_read_self(&p, arg, sizeof(p)) && p.fd <= INT32_MAX &&
		    fcntl((int)p.fd, F_GETFD) >= 0) {
			fds[1] = (int)p.fd;
			nfds = 2;
			io.aux_fd = (int32_t)p.fd;
			io.flags |= SGXP_IOCTL_AUX_FD;
		}
	}
	ret = rt_conn_get(&c);
	if (ret)
		return rt_fail(ret);
	ret = rt_exchange(c, &io.hdr, sizeof(io), fds, (unsigned int)nfds, &r, sizeof(r), &rfd);
	if (rfd >= 0)
		close(rfd);
	if (ret)
		return rt_fail(ret);
	if (r.err == -EBADF)
		return ioctl(fd, request, arg); /* a socket, but no handle */
	if (r.err)
		return rt_fail(r.err);
	return (int)r.val;
}

int sgxrt_close(int fd)
{
	return close(fd);
}

int sgxrt_machine_stats(struct sgxp_machine_stats *st, unsigned int flags)
{
	struct sgxp_stats s = { .hdr = { .op = SGXP_STATS, .len = sizeof(s) }, .flags = flags };
	struct sgxp_stats_reply r;
	struct rt_conn *c;
	int ret, rfd;

	ret = rt_conn_get(&c);
	if (ret)
		return rt_fail(ret);
	ret = rt_exchange(c, &s.hdr, sizeof(s), NULL, 0, &r, sizeof(r), &rfd);
	if (rfd >= 0)
		close(rfd);
	if (ret)
		return rt_fail(ret);
	if (r.r.err)
		return rt_fail(r.r.err);
	*st = r.st;
	return 0;
}

int sgxrt_stats_list_decode(const void *msg, size_t n, uint32_t list, uint64_t from,
			    size_t entry_size, void *out, size_t max, size_t *stored,
			    uint64_t *next)
{
	const struct sgxp_stats_list_reply *r = msg;
	const uint8_t *at = (const uint8_t *)msg + sizeof(*r);
	size_t copy;

	*stored = 0;
	*next = 0;
	if (!msg || n < sizeof(*r))
		return -EPROTO;
	if (r->r.err)
		return r->r.err < 0 && r->r.err > -4096 ? r->r.err : -EPROTO;
	if (r->list != list || r->more > 1 || r->entry_size < 8 || r->entry_size > SGXP_MAX_MSG ||
	    (uint64_t)r->count * r->entry_size > n - sizeof(*r))
		return -EPROTO;
	/* A list that goes on must move forward, or a reader would loop. */
	if (r->more && r->next <= from)
		return -EPROTO;
	copy = r->entry_size < entry_size ? r->entry_size : entry_size;
	for (size_t i = 0; i < r->count && i < max; i++) {
		uint8_t *dst = (uint8_t *)out + i * entry_size;

		memcpy(dst, at + i * (size_t)r->entry_size, copy);
		memset(dst + copy, 0, entry_size - copy);
		(*stored)++;
	}
	*next = r->more ? r->next : 0;
	return (int)r->count;
}

int sgxrt_machine_list(uint32_t list, void *out, size_t entry_size, size_t max, size_t *count)
{
	uint64_t buf[SGXP_MAX_MSG / 8];
	uint64_t from = 0, next;
	struct rt_conn *c;
	size_t got = 0;
	int ret, rfd;

	if (!out || !count || entry_size < 8)
		return rt_fail(-EINVAL);
	*count = 0;
	ret = rt_conn_get(&c);
	if (ret)
		return rt_fail(ret);
	do {
		struct sgxp_stats_list q = { .hdr = { .op = SGXP_STATS_LIST, .len = sizeof(q) },
					     .list = list, .from = from };
		const struct sgxp_reply *r = (const void *)buf;
		size_t stored;
		int n;

		ret = rt_exchange(c, &q.hdr, sizeof(q), NULL, 0, buf, sizeof(buf), &rfd);
		if (rfd >= 0)
			close(rfd);
		if (ret)
			return rt_fail(ret);
		n = sgxrt_stats_list_decode(buf, r->hdr.len < sizeof(buf) ? r->hdr.len : sizeof(buf),
					    list, from, entry_size,
					    (uint8_t *)out + (got < max ? got : max) * entry_size,
					    got < max ? max - got : 0, &stored, &next);
		if (n < 0)
			return rt_fail(n);
		got += stored;
		*count += (size_t)n;
		from = next;
	} while (next);
	return 0;
}

/* --- The private machine ------------------------------------------------------ */

pid_t sgxrt_machine_start(const char *sgxemu_path, const char *const *args)
{
	char sock[128], fdarg[16];
	const char *argv[64];
	int pipefd[2], n = 0, err;
	pid_t pid;
	char byte;
	ssize_t got;

	if (!sgxemu_path)
		sgxemu_path = getenv("SGXEMU_BIN");
	if (!sgxemu_path)
		sgxemu_path = "sgxemu";
	if (rt_private_pid > 0) {
		errno = EBUSY;
		return -1;
	}
	strcpy(rt_private_dir, "/tmp/sgxemu-XXXXXX");
	if (!mkdtemp(rt_private_dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/machine.sock", rt_private_dir);
	if (pipe2(pipefd, O_CLOEXEC))
		goto err_dir;
	snprintf(fdarg, sizeof(fdarg), "%d", pipefd[1]);
	argv[n++] = sgxemu_path;
	argv[n++] = "machine";
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	for (int i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		goto err_pipe;
	if (pid == 0) {
		/* The machine ends with the thread that started it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fcntl(pipefd[1], F_SETFD, 0);
		close(pipefd[0]);
		if (strchr(sgxemu_path, '/'))
			execv(sgxemu_path, (char *const *)argv);
		else
			execvp(sgxemu_path, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	do
		got = read(pipefd[0], &byte, 1);
	while (got < 0 && errno == EINTR);
	close(pipefd[0]);
	if (got != 1) {
		/* It exited before it listened: its message is on stderr. */
		waitpid(pid, NULL, 0);
		rmdir(rt_private_dir);
		errno = EIO;
		return -1;
	}
	rt_private_pid = pid;
	if (sgxrt_set_machine(sock)) {
		err = errno;
		sgxrt_machine_stop();
		errno = err;
		return -1;
	}
	atomic_store(&rt_dead_reported, false);
	return pid;
err_pipe:
	err = errno;
	close(pipefd[0]);
	close(pipefd[1]);
	errno = err;
err_dir:
	err = errno;
	rmdir(rt_private_dir);
	errno = err;
	return -1;
}

int sgxrt_machine_stop(void)
{
	int status;
	pid_t pid = rt_private_pid;

	if (pid <= 0) {
		errno = ECHILD;
		return -1;
	}
	rt_private_pid = -1;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	rt_conn_close(&rt_tls);
	rmdir(rt_private_dir);
	sgxrt_set_machine(NULL);
	return status;
}
