/*
 * machine_internal.h: what the machine's files share: the machine, its
 * client processes, connections and handles, and the user-memory
 * callbacks of a call (user.c).
 *
 * Locking: m->lock guards the lists (procs, conns, handles) and every
 * refs count below; a handle's or process's other fields are fixed at
 * creation.  m->reap_lock serializes the handling of epoll events
 * (releases), which the main loop and STATS both run.  Order: reap_lock,
 * then lock.
 */
#ifndef SGXEMU_MACHINE_INTERNAL_H
#define SGXEMU_MACHINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "driver/driver.h"
#include "machine/machine.h"
#include "sgxemu/proto.h"

enum m_ev_type { M_EV_HANDLE = 1, M_EV_PROC = 2 };

/* A client process: known from its first connection until its pidfd says
 * it exited (the kernel's mmu_notifier release). */
struct m_proc {
	int ev_type; /* M_EV_PROC: first, for the epoll tag */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int pidfd;
	uint64_t pidfd_ino; /* pidfs inode: names the process, not the number */
	bool exited;
	int refs; /* the table's, while not exited, and each connection's */
	struct m_proc *next;
};

/* A handle: the machine's end (mfd) of the socketpair whose other end is
 * the client's descriptor (ino). */
struct m_handle {
	int ev_type; /* M_EV_HANDLE */
	uint64_t id;
	int mfd;
	uint64_t ino;
	uint32_t device; /* enum sgxp_device */
	uint32_t open_flags;
	struct sgx_drv_encl *encl; /* enclave handles */
	int refs; /* the table's until release, and each call's */
	struct m_handle *next;
};

struct m_conn {
	struct sgx_machine *m;
	int fd;
	struct m_proc *proc;
	struct m_conn *next;
};

struct sgx_machine {
	struct sgx_machine_config cfg;
	char path[108];
	bool path_made;
	dev_t path_dev;
	ino_t path_ino;
	int listen_fd;
	int epfd;
	pid_t pid;
	struct sgx_cpu *cpu;
	struct sgx_core *core;
	struct sgx_drv *drv;

	pthread_mutex_t reap_lock;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a connection ended */
	struct m_proc *procs;
	struct m_handle *handles;
	struct m_conn *conns;
	unsigned int nr_conns;
	bool stopping;
	uint64_t next_handle_id;
	uint64_t processes_exited;
	uint64_t handles_released;
	uint64_t cancels;
};

/* The user-memory side of one call (user.c): the client's memory by
 * process_vm_readv/writev, its mappings by /proc/PID/smaps, its signals
 * by a CANCEL on the connection. */
struct m_call {
	struct m_conn *conn;
	pid_t pid;
	uint64_t seq;
	bool cancelled;
	/* The last mapping source_check() found: [start, end), may exec. */
	uint64_t vma_start, vma_end;
	int vma_ret;
	bool vma_valid;
	/* PROVISION's descriptor as sent along: its number in the client and
	 * whether it is a provisioning handle. */
	bool aux_valid;
	uint64_t aux_fd;
	bool aux_is_provision;
};

void m_call_user(struct m_call *call, struct sgx_drv_user *u);

/* STATS_LIST (stats.c): the reply to req (len bytes received) in buf,
 * of buf_len >= SGXP_MAX_MSG bytes; returns the reply's length.  Any
 * bytes are a valid req: what is malformed is answered -EINVAL. */
size_t m_stats_list(struct sgx_machine *m, const struct sgxp_hdr *req, ssize_t len, void *buf,
		    size_t buf_len);

#endif /* SGXEMU_MACHINE_INTERNAL_H */
