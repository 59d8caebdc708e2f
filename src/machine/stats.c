/*
 * stats.c: STATS_LIST (proto.h): the machine's EPC nodes, enclave files
 * and client processes, one datagram of entries per request.
 *
 * Who owns an enclave.  A handle is a socket whose client ends may sit in
 * any number of processes (dup, fork, SCM_RIGHTS); the machine knows only
 * its own end.  The owners of a handle are the client processes with a
 * descriptor of it now, read from /proc/PID/fd (a descriptor names the
 * socket's inode, "socket:[INO]"), which needs no more access than the
 * runtime grants the machine (the same user, or PR_SET_PTRACER).  A
 * descriptor in flight in a unix socket belongs to no process.
 *
 * Nothing here holds m->lock across a file system read: the handles and
 * processes are copied under the lock, the descriptors read afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/machine_internal.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"

/* What a request needs of the handles and processes, copied under m->lock. */
struct snap_handle {
	uint64_t ino;
	uint64_t encl_id; /* 0: a provisioning handle */
};

struct snap_proc {
	pid_t pid;
	uid_t uid;
	uint64_t connections;
	bool fds_unknown;
	uint32_t *held; /* descriptors of each handle (index as in handles) */
};

struct snap {
	struct snap_handle *handles;
	size_t nr_handles;
	struct snap_proc *procs;
	size_t nr_procs;
};

static int cmp_proc(const void *a, const void *b)
{
	const struct snap_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->nr_procs; i++)
		free(s->procs[i].held);
	free(s->procs);
	free(s->handles);
	memset(s, 0, sizeof(*s));
}

/* The descriptors of handles that process p holds, from /proc/PID/fd. */
static void snap_read_fds(struct snap *s, struct snap_proc *p)
{
	char path[64], link[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)p->pid);
	dir = opendir(path);
	if (!dir) {
		p->fds_unknown = true;
		return;
	}
	while ((d = readdir(dir))) {
		unsigned long long ino;
		char fdpath[320];
		ssize_t n;

		if (d->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		for (size_t i = 0; i < s->nr_handles; i++)
			if (s->handles[i].ino == ino)
				p->held[i]++;
	}
	closedir(dir);
}

/* Copies the handles and live processes, then reads who holds what.
 * 0 or -ENOMEM. */
static int snap_take(struct sgx_machine *m, struct snap *s)
{
	size_t nh = 0, np = 0;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&m->lock);
	for (struct m_handle *h = m->handles; h; h = h->next)
		nh++;
	for (struct m_proc *p = m->procs; p; p = p->next)
		np++;
	s->handles = calloc(nh ? nh : 1, sizeof(*s->handles));
	s->procs = calloc(np ? np : 1, sizeof(*s->procs));
	if (!s->handles || !s->procs) {
		pthread_mutex_unlock(&m->lock);
		snap_free(s);
		return -ENOMEM;
	}
	for (struct m_handle *h = m->handles; h; h = h->next) {
		s->handles[s->nr_handles].ino = h->ino;
		s->handles[s->nr_handles].encl_id = h->encl ? sgx_drv_encl_id(h->encl) : 0;
		s->nr_handles++;
	}
	for (struct m_proc *p = m->procs; p; p = p->next) {
		struct snap_proc *sp = &s->procs[s->nr_procs++];

		sp->pid = p->pid;
		sp->uid = p->uid;
		for (struct m_conn *c = m->conns; c; c = c->next)
			if (c->proc == p)
				sp->connections++;
	}
	pthread_mutex_unlock(&m->lock);
	qsort(s->procs, s->nr_procs, sizeof(*s->procs), cmp_proc);
	for (size_t i = 0; i < s->nr_procs; i++) {
		s->procs[i].held = calloc(s->nr_handles ? s->nr_handles : 1, sizeof(uint32_t));
		if (!s->procs[i].held) {
			snap_free(s);
			return -ENOMEM;
		}
		snap_read_fds(s, &s->procs[i]);
	}
	return 0;
}

/* An enclave file's entry, less its owners. */
static void encl_entry(struct sgx_drv_encl *f, struct sgxp_encl_entry *e)
{
	struct sgx_encl *encl = sgx_drv_encl_core(f);

	memset(e, 0, sizeof(*e));
	e->id = sgx_drv_encl_id(f);
	if (encl) {
		struct sgx_encl_stats es;

		sgx_encl_stats(encl, &es);
		e->state = SGXP_ENCL_CREATED |
			   (sgx_drv_encl_initialized(f) ? SGXP_ENCL_INITIALIZED : 0);
		e->base = sgx_drv_encl_base(f);
		e->size = sgx_drv_encl_size(f);
		e->pages = es.pages;
		e->resident = es.resident;
		e->secs_resident = es.secs_resident;
		e->written_back = es.written_back;
		e->va_pages = es.va_pages;
		e->va_slots_used = es.va_slots_used;
		e->charged = es.charged;
		e->writebacks = es.writebacks;
		e->loads = es.loads;
		e->faults = es.faults;
		e->faults_loaded = es.faults_loaded;
	}
}

/* The owners and handle count of entry e. */
static void encl_owners(const struct snap *s, struct sgxp_encl_entry *e)
{
	for (size_t i = 0; i < s->nr_handles; i++)
		if (s->handles[i].encl_id == e->id)
			e->handles++;
	for (size_t p = 0; p < s->nr_procs; p++) {
		bool owns = false;

		for (size_t i = 0; i < s->nr_handles && !owns; i++)
			owns = s->handles[i].encl_id == e->id && s->procs[p].held[i];
		if (!owns)
			continue;
		/* procs are sorted by pid: owners come out ascending. */
		if (e->nr_owners < SGXP_ENCL_OWNERS)
			e->owners[e->nr_owners] = s->procs[p].pid;
		e->nr_owners++;
	}
}

/* Every enclave file's entry (for the process list), in *out. */
static int all_encls(struct sgx_machine *m, struct sgxp_encl_entry **out, size_t *n)
{
	struct sgx_drv_encl *files[64];
	struct sgxp_encl_entry *e = NULL;
	size_t cap = 0, got;
	uint64_t from = 1;

	*n = 0;
	do {
		got = sgx_drv_list(m->drv, from, files, 64);
		if (*n + got > cap) {
			struct sgxp_encl_entry *ne;

			cap = (*n + got) * 2;
			ne = realloc(e, cap * sizeof(*e));
			if (!ne) {
				for (size_t i = 0; i < got; i++)
					sgx_drv_put(files[i]);
				free(e);
				return -ENOMEM;
			}
			e = ne;
		}
		for (size_t i = 0; i < got; i++) {
			encl_entry(files[i], &e[(*n)++]);
			from = sgx_drv_encl_id(files[i]) + 1;
			sgx_drv_put(files[i]);
		}
	} while (got == 64);
	*out = e;
	return 0;
}

static size_t list_nodes(struct sgx_machine *m, uint64_t from, uint8_t *at, size_t room,
			 bool *more, uint64_t *next)
{
	struct sgx_core_stats cs;
	size_t n = 0;

	sgx_core_stats(m->core, &cs);
	for (uint64_t i = from; i < cs.nr_nodes; i++) {
		struct sgxp_node_entry e;

		if ((n + 1) * sizeof(e) > room) {
			*more = true;
			*next = i;
			break;
		}
		memset(&e, 0, sizeof(e));
		e.index = i;
		e.nid = cs.nodes[i].nid;
		e.total = cs.nodes[i].total;
		e.free = cs.nodes[i].free;
		e.poisoned = cs.nodes[i].poisoned;
		e.in_use = e.total - e.free - e.poisoned;
		memcpy(at + n * sizeof(e), &e, sizeof(e));
		n++;
	}
	return n;
}

static int list_encls(struct sgx_machine *m, uint64_t from, uint8_t *at, size_t room,
		      size_t *count, bool *more, uint64_t *next)
{
	size_t max = room / sizeof(struct sgxp_encl_entry), got;
	struct sgx_drv_encl *files[SGXP_MAX_MSG / sizeof(struct sgxp_encl_entry) + 1];
	struct snap s;
	int ret;

	*count = 0;
	ret = snap_take(m, &s);
	if (ret)
		return ret;
	/* One more than fits tells whether the list goes on. */
	got = sgx_drv_list(m->drv, from, files, max + 1);
	for (size_t i = 0; i < got; i++) {
		struct sgxp_encl_entry e;

		if (i == max) {
			*more = true;
			*next = sgx_drv_encl_id(files[i]);
		} else {
			encl_entry(files[i], &e);
			encl_owners(&s, &e);
			memcpy(at + i * sizeof(e), &e, sizeof(e));
			(*count)++;
		}
		sgx_drv_put(files[i]);
	}
	snap_free(&s);
	return 0;
}

static int list_procs(struct sgx_machine *m, uint64_t from, uint8_t *at, size_t room,
		      size_t *count, bool *more, uint64_t *next)
{
	struct sgxp_encl_entry *encls = NULL;
	size_t nr_encls = 0;
	struct snap s;
	int ret;

	*count = 0;
	ret = snap_take(m, &s);
	if (ret)
		return ret;
	ret = all_encls(m, &encls, &nr_encls);
	if (ret) {
		snap_free(&s);
		return ret;
	}
	for (size_t p = 0; p < s.nr_procs; p++) {
		const struct snap_proc *sp = &s.procs[p];
		struct sgxp_proc_entry e;

		if ((uint64_t)(int64_t)sp->pid < from)
			continue;
		if ((*count + 1) * sizeof(e) > room) {
			*more = true;
			*next = (uint64_t)(int64_t)sp->pid;
			break;
		}
		memset(&e, 0, sizeof(e));
		e.pid = sp->pid;
		e.uid = sp->uid;
		e.connections = sp->connections;
		e.flags = sp->fds_unknown ? SGXP_PROC_FDS_UNKNOWN : 0;
		for (size_t i = 0; i < s.nr_handles; i++) {
			if (!sp->held[i])
				continue;
			e.handles++;
			e.descriptors += sp->held[i];
		}
		/* Each enclave once, however many of its handles are held. */
		for (size_t k = 0; k < nr_encls; k++) {
			bool held = false;

			for (size_t i = 0; i < s.nr_handles && !held; i++)
				held = sp->held[i] && s.handles[i].encl_id == encls[k].id;
			if (!held)
				continue;
			e.enclaves++;
			e.epc_pages += encls[k].resident + encls[k].secs_resident +
				       encls[k].va_pages;
		}
		memcpy(at + *count * sizeof(e), &e, sizeof(e));
		(*count)++;
	}
	free(encls);
	snap_free(&s);
	return 0;
}

size_t m_stats_list(struct sgx_machine *m, const struct sgxp_hdr *req, ssize_t len, void *buf,
		    size_t buf_len)
{
	const struct sgxp_stats_list *q = (const void *)req;
	struct sgxp_stats_list_reply *r = buf;
	uint8_t *at = (uint8_t *)buf + sizeof(*r);
	size_t room = buf_len - sizeof(*r), count = 0, size = 0;
	bool more = false;
	uint64_t next = 0;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->r.hdr.op = req->op;
	r->r.hdr.seq = req->seq;
	if (len < (ssize_t)sizeof(*q) || q->flags) {
		ret = -EINVAL;
	} else {
		switch (q->list) {
		case SGXP_LIST_NODES:
			size = sizeof(struct sgxp_node_entry);
			count = list_nodes(m, q->from, at, room, &more, &next);
			break;
		case SGXP_LIST_ENCLAVES:
			size = sizeof(struct sgxp_encl_entry);
			ret = list_encls(m, q->from, at, room, &count, &more, &next);
			break;
		case SGXP_LIST_PROCESSES:
			size = sizeof(struct sgxp_proc_entry);
			ret = list_procs(m, q->from, at, room, &count, &more, &next);
			break;
		default:
			ret = -EINVAL;
			break;
		}
	}
	if (ret) {
		count = 0;
		more = false;
		next = 0;
	} else {
		r->list = q->list;
		r->entry_size = (uint32_t)size;
	}
	r->r.err = ret;
	r->count = (uint32_t)count;
	r->more = more;
	r->next = next;
	r->r.hdr.len = (uint32_t)(sizeof(*r) + count * size);
	return r->r.hdr.len;
}
