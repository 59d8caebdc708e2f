/*
 * runtime.h: the client side of the machine (libsgxemu_rt.a), linked into
 * every program that uses enclaves.  Its calls mirror the system calls on
 * the SGX device files one for one, so that a program's open, ioctl and
 * close can be routed to them unchanged: each returns what the system call
 * returns and sets errno as it does (-1 and errno on failure).
 *
 * Which machine: the one set by sgxrt_machine_start() or
 * sgxrt_set_machine(), else the socket named by SGXEMU_MACHINE.  Without
 * any, the device files do not exist (ENOENT), as on a host without SGX.
 * A machine that dies or stops makes every later call fail with EIO, with
 * one message on stderr naming the socket (the kernel's log line, for
 * want of a kernel): calls never hang on a dead machine.
 *
 * Descriptors.  sgxrt_open() returns a real descriptor: dup, fork,
 * SCM_RIGHTS and close act on it as on the kernel's file; the enclave is
 * released when the last copy anywhere is closed.
 *
 * Signals.  A signal that arrives during a call the machine serves is
 * held until the call ends, then delivered; a call the kernel would
 * restart (ADD_PAGES before its first page) is restarted when every such
 * signal's handler has SA_RESTART, and fails with EINTR otherwise.
 *
 * Threads: every call may be made from any thread; each thread talks to
 * the machine on a connection of its own, made on its first call.
 */
#ifndef SGXEMU_RUNTIME_H
#define SGXEMU_RUNTIME_H

#include <stdint.h>
#include <sys/types.h>

#include "sgxemu/proto.h"

/* open(2) of /dev/sgx_enclave, /dev/sgx/enclave, /dev/sgx_provision or
 * /dev/sgx/provision (any other path: ENOENT).  O_CLOEXEC is honoured. */
int sgxrt_open(const char *path, int flags);
/* ioctl(2).  A descriptor that is not a handle of the machine goes to the
 * system's ioctl(). */
int sgxrt_ioctl(int fd, unsigned long request, void *arg);
/* close(2). */
int sgxrt_close(int fd);

/* Names the machine's socket for this process and the programs it
 * executes (SGXEMU_MACHINE); NULL forgets it.  0 or -1 (ENOMEM). */
int sgxrt_set_machine(const char *socket_path);
/* The socket in use, or NULL. */
const char *sgxrt_machine_path(void);

/* A private machine for this process and its children: sgxemu (the binary
 * at sgxemu_path, else $SGXEMU_BIN, else "sgxemu" on PATH) started with
 * "machine --socket TMPDIR/machine.sock" and args (NULL-terminated extra
 * options, may be NULL), waited for until it listens, and made this
 * process's machine.  It receives SIGTERM if the calling thread exits.
 * Returns its pid, or -1 with errno. */
pid_t sgxrt_machine_start(const char *sgxemu_path, const char *const *args);
/* Stops the private machine (SIGTERM) and waits for it: its exit status
 * as waitpid() gives it, or -1 with errno (ECHILD: none running). */
int sgxrt_machine_stop(void);

/* The machine's counters (STATS).  flags: SGXP_STATS_QUIESCE to have every
 * release already due done first.  0 or -1 with errno. */
int sgxrt_machine_stats(struct sgxp_machine_stats *st, unsigned int flags);

/*
 * Every entry of a list of the machine (STATS_LIST, proto.h: list is
 * SGXP_LIST_NODES, _ENCLAVES or _PROCESSES), asked for one datagram at a
 * time: at most max entries into out, each entry_size bytes (the caller's
 * struct sgxp_*_entry: the machine's longer entry is cut to it, a shorter
 * one filled with zeros).  *count gets how many entries the machine
 * listed, which may be more than max (those are not stored).  0, or -1
 * with errno (EPROTO: a reply that breaks the protocol).
 */
int sgxrt_machine_list(uint32_t list, void *out, size_t entry_size, size_t max, size_t *count);

/*
 * Decodes one STATS_LIST reply of n bytes (msg) to a request for list
 * from from: checks it (the list asked for, entries within the n bytes, a
 * list that goes on moving past from), then copies at most max entries
 * into out as sgxrt_machine_list() does (*stored of them) and gives the
 * next request's from in *next (0: the list ended).  Returns the entries
 * in the reply, the machine's -errno, or -EPROTO.  Any bytes are safe.
 */
int sgxrt_stats_list_decode(const void *msg, size_t n, uint32_t list, uint64_t from,
			    size_t entry_size, void *out, size_t max, size_t *stored,
			    uint64_t *next);

#endif /* SGXEMU_RUNTIME_H */
