/*
 * proto.h: the wire protocol between the machine process (src/machine/)
 * and the runtime in its clients (src/runtime/).  Both ends include it;
 * neither includes the other's internals.
 *
 * Transport.  The machine listens on a SOCK_SEQPACKET unix socket.  Each
 * client thread that talks to it has a connection of its own, so that a
 * long call of one thread never delays another's.  A request is one
 * datagram and its reply is one datagram on the same connection, carrying
 * the request's seq; descriptors travel by SCM_RIGHTS.  Who a client is
 * comes from the connection's SO_PEERCRED, never from what it sends.
 *
 * Handles.  OPEN answers with one end of a socketpair whose other end the
 * machine keeps: that descriptor is what the client's open() returns, so
 * dup, fork, SCM_RIGHTS and close act on it as on the kernel's file, and
 * the last close anywhere is the file's release (the machine sees its end
 * hang up).  A request that names a handle sends the descriptor along
 * (the first SCM_RIGHTS descriptor); the machine knows it by its inode.
 *
 * Interruption.  A client thread whose call is interrupted by a signal
 * sends CANCEL with the seq of the call; the machine looks for it between
 * the steps of a long call (ADD_PAGES' pages) as the kernel checks
 * signal_pending(), and answers the call as the kernel would
 * (-ERESTARTSYS before any progress, the progress made otherwise).  A
 * CANCEL that arrives after the reply is dropped by its seq.
 *
 * Opcodes are grouped so that the layers add theirs without renumbering:
 * 1..15 connection, handles and ioctls; 16..31 mappings and faults; 32..47
 * the machine's requests to a client's agent; 48.. statistics and control.
 * A machine answers an opcode it does not know with -ENOSYS.
 *
 * Every struct is fixed-width and packed by construction (no holes), with
 * its size checked below.
 */
#ifndef SGXEMU_PROTO_H
#define SGXEMU_PROTO_H

#include <stdint.h>

#define SGXP_VERSION 1

/* The largest datagram either end sends; a receiver's buffer. */
#define SGXP_MAX_MSG 4096
/* Descriptors one datagram may carry. */
#define SGXP_MAX_FDS 4

/* The kernel's internal "restart the call" code, which the runtime turns
 * into a restart (SA_RESTART) or EINTR, as the kernel's signal delivery
 * does; never seen by a program. */
#define SGXP_ERESTARTSYS 512

enum sgxp_op {
	/* Connection, handles, ioctls. */
	SGXP_HELLO = 1,
	SGXP_OPEN = 2,
	SGXP_IOCTL = 3,
	SGXP_CANCEL = 4, /* client -> machine, no reply */
	SGXP_SHUTDOWN = 5, /* machine -> client, unsolicited: the machine stops */
	/* Mappings and faults (16..31). */
	SGXP_MMAP = 16,
	SGXP_MUNMAP = 17,
	SGXP_MPROTECT = 18,
	SGXP_FAULT = 19,
	/* Machine -> agent (32..47). */
	SGXP_ZAP = 32,
	SGXP_KICK = 33,
	/* Statistics and control (48..). */
	SGXP_STATS = 48,
	SGXP_STATS_LIST = 50,
};

/* Every datagram starts with this.  len: the whole datagram's bytes. */
struct sgxp_hdr {
	uint32_t op;
	uint32_t len;
	uint64_t seq;
};

/* Every reply starts with this: err is 0 or a negative errno (or
 * -SGXP_ERESTARTSYS); val the call's value when it succeeded. */
struct sgxp_reply {
	struct sgxp_hdr hdr;
	int32_t err;
	uint32_t nr_fds; /* descriptors attached */
	int64_t val;
};

/* HELLO: the first request on a connection. */
struct sgxp_hello {
	struct sgxp_hdr hdr;
	uint32_t version;
	uint32_t flags;
};
struct sgxp_hello_reply {
	struct sgxp_reply r;
	uint32_t version;
	int32_t machine_pid; /* for PR_SET_PTRACER: the machine reads the client */
	uint64_t features;
	/* The arena (ENCLU in the client): the client reserves [arena_base,
	 * arena_base + arena_size) and maps the descriptor attached, the
	 * processor's state of cpu_size bytes, at arena_base (cpu.h,
	 * sgx_cpu_attach()).  0 when the machine shares none. */
	uint64_t arena_base;
	uint64_t arena_size;
	uint64_t cpu_size;
};

/* OPEN: a new handle. */
enum sgxp_device {
	SGXP_DEV_ENCLAVE = 1, /* /dev/sgx_enclave */
	SGXP_DEV_PROVISION = 2, /* /dev/sgx_provision */
};
struct sgxp_open {
	struct sgxp_hdr hdr;
	uint32_t device;
	uint32_t flags; /* open(2)'s flags: the access mode is recorded */
};
/* Reply: the descriptor attached; val the handle's id. */

/*
 * IOCTL on the handle attached first.  arg is the client's address of the
 * argument structure: the machine reads and writes it (process_vm_readv,
 * process_vm_writev) as the kernel's copy_from_user and copy_to_user do.
 * With SGXP_IOCTL_AUX_FD a second descriptor is attached: the one the
 * argument names by number (PROVISION's fd), which is aux_fd.
 */
#define SGXP_IOCTL_AUX_FD 0x1
struct sgxp_ioctl {
	struct sgxp_hdr hdr;
	uint64_t cmd;
	uint64_t arg;
	int32_t aux_fd;
	uint32_t flags;
};

/* CANCEL: hdr.seq is the seq of the call it interrupts. */
struct sgxp_cancel {
	struct sgxp_hdr hdr;
};

/* STATS: the machine's counters.  With SGXP_STATS_QUIESCE the machine
 * first handles every release already due (hung-up handles, exited
 * processes) and waits for running reclaim, so that a test reads exact
 * figures after its clients closed or exited. */
#define SGXP_STATS_QUIESCE 0x1
struct sgxp_stats {
	struct sgxp_hdr hdr;
	uint32_t flags;
	uint32_t reserved;
};

/* What STATS answers.  size is sizeof() of the sender's version: fields
 * are only ever appended. */
struct sgxp_machine_stats {
	uint64_t size;
	uint64_t machine_pid;
	/* EPC and EPCM. */
	uint64_t epc_total;
	uint64_t epc_free;
	uint64_t epc_poisoned;
	uint64_t epc_leaked;
	uint64_t epcm_valid;
	/* The core. */
	uint64_t enclaves; /* core enclaves (made by CREATE, not yet torn down) */
	uint64_t lru_pages;
	uint64_t backing_limit;
	uint64_t backing_charged;
	uint64_t va_pages;
	uint64_t va_slots_used;
	uint64_t pages_written_back;
	uint64_t pages_loaded;
	uint64_t load_failures;
	/* The driver and the machine. */
	uint64_t encl_files; /* enclave files (handles' objects) alive */
	uint64_t handles; /* handles whose release is still to come */
	uint64_t provision_handles;
	uint64_t processes; /* client processes known and not yet exited */
	uint64_t connections;
	uint64_t ioctls;
	uint64_t ioctl_busy; /* ioctls refused EBUSY: another ran on the file */
	uint64_t cancels; /* calls that met a CANCEL */
	uint64_t processes_exited;
	uint64_t handles_released;
	/* 0, or -EUCLEAN when sgx_core_check() finds a broken invariant
	 * (quiescent check, only with SGXP_STATS_QUIESCE). */
	int64_t core_check;
	/* Paging in detail (core.h, struct sgx_core_stats). */
	uint64_t secs_written_back;
	uint64_t secs_loaded;
	uint64_t core_faults; /* the core's fault path: pages made usable for a mapping */
	uint64_t core_faults_loaded; /* of those, loaded (ELDU) */
	/* EWB retries by cause, the kernel's three stages. */
	uint64_t ewb_retry_etrack; /* SGX_NOT_TRACKED: ETRACK, EWB again */
	uint64_t ewb_retry_ipi; /* still not tracked: threads asked to leave */
	uint64_t ewb_gave_up; /* threads stayed inside: left resident */
	uint64_t ewb_failures; /* another refusal: left resident */
	uint64_t ewb_etracks;
	uint64_t ewb_kicks;
	uint64_t backing_limit_hits; /* write-backs the limit refused */
	uint64_t age_hits;
	uint64_t age_misses;
	uint64_t reclaim_batches;
	uint64_t direct_reclaims;
	uint64_t nr_nodes; /* entries of SGXP_LIST_NODES */
	uint64_t va_policy; /* enum sgx_va_policy */
};
struct sgxp_stats_reply {
	struct sgxp_reply r;
	struct sgxp_machine_stats st;
};

/*
 * STATS_LIST: one datagram's worth of a list of the machine's objects:
 * its EPC nodes, its enclave files, its client processes.  Entries come in
 * the order of their key (a node's index, an enclave's id, a process's
 * pid), those with key >= from, as many as a reply holds; the reply's
 * more says whether entries were left out, and next is the from of the
 * request that continues the list.  Each request is a fresh look: an
 * object made or gone between two requests appears or not.
 *
 * A request shorter than struct sgxp_stats_list, with an unknown list or
 * with flags or reserved set, is answered -EINVAL.
 */
enum sgxp_stats_list_kind {
	SGXP_LIST_NODES = 1,
	SGXP_LIST_ENCLAVES = 2,
	SGXP_LIST_PROCESSES = 3,
};
struct sgxp_stats_list {
	struct sgxp_hdr hdr;
	uint32_t list; /* enum sgxp_stats_list_kind */
	uint32_t flags; /* 0 */
	uint64_t from;
};
/* The reply: this header, then count entries of entry_size bytes each
 * (sizeof() of the sender's entry: fields are only ever appended, so a
 * receiver reads the fields it knows and skips the rest). */
struct sgxp_stats_list_reply {
	struct sgxp_reply r;
	uint32_t list;
	uint32_t entry_size;
	uint32_t count;
	uint32_t more; /* 1: entries after these; ask again from next */
	uint64_t next;
};

/* One EPC node (a section's NUMA node). */
struct sgxp_node_entry {
	uint64_t index;
	int64_t nid;
	uint64_t total;
	uint64_t free;
	uint64_t poisoned;
	uint64_t in_use; /* total - free - poisoned */
};

#define SGXP_ENCL_CREATED 0x1
#define SGXP_ENCL_INITIALIZED 0x2
/* Owner processes an entry names; nr_owners may be more. */
#define SGXP_ENCL_OWNERS 8

/* One enclave file (an open of /dev/sgx_enclave). */
struct sgxp_encl_entry {
	uint64_t id; /* 1, 2, ... in the order of the opens */
	uint64_t base; /* 0 before CREATE */
	uint64_t size;
	uint32_t state; /* SGXP_ENCL_* */
	uint32_t nr_owners; /* processes holding a descriptor of it */
	uint64_t handles; /* open handles (file descriptions) of it */
	uint64_t pages; /* children added */
	uint64_t resident; /* children resident */
	uint64_t secs_resident; /* 0 or 1 */
	uint64_t written_back; /* children and SECS in the backing */
	uint64_t va_pages;
	uint64_t va_slots_used;
	uint64_t charged; /* backing pages charged */
	uint64_t writebacks; /* since CREATE: children written back */
	uint64_t loads; /* children loaded */
	uint64_t faults; /* the fault path's calls that made a page usable */
	uint64_t faults_loaded;
	int32_t owners[SGXP_ENCL_OWNERS]; /* their pids, ascending; 0 after nr_owners */
};

/* One client process. */
#define SGXP_PROC_FDS_UNKNOWN 0x1 /* its descriptors could not be read */
struct sgxp_proc_entry {
	int64_t pid;
	uint64_t uid;
	uint64_t connections;
	uint64_t handles; /* handles of which it holds a descriptor */
	uint64_t descriptors; /* its descriptors of handles */
	uint64_t enclaves; /* enclave files among those handles */
	/* EPC pages of those enclaves: resident children, SECS, VA pages. */
	uint64_t epc_pages;
	uint32_t flags; /* SGXP_PROC_* */
	uint32_t reserved;
};

_Static_assert(sizeof(struct sgxp_hdr) == 16, "hdr");
_Static_assert(sizeof(struct sgxp_reply) == 32, "reply");
_Static_assert(sizeof(struct sgxp_hello) == 24, "hello");
_Static_assert(sizeof(struct sgxp_hello_reply) == 72, "hello reply");
_Static_assert(sizeof(struct sgxp_open) == 24, "open");
_Static_assert(sizeof(struct sgxp_ioctl) == 40, "ioctl");
_Static_assert(sizeof(struct sgxp_stats) == 24, "stats");
_Static_assert(sizeof(struct sgxp_stats_reply) <= SGXP_MAX_MSG, "stats reply");
_Static_assert(sizeof(struct sgxp_stats_list) == 32, "stats list");
_Static_assert(sizeof(struct sgxp_stats_list_reply) == 56, "stats list reply");
_Static_assert(sizeof(struct sgxp_node_entry) == 48, "node entry");
_Static_assert(sizeof(struct sgxp_encl_entry) == 160, "enclave entry");
_Static_assert(sizeof(struct sgxp_proc_entry) == 64, "process entry");

#endif /* SGXEMU_PROTO_H */
