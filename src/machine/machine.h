/*
 * machine.h: the machine process: one emulated SGX machine (processor,
 * core, enclave device) served to client processes over a unix socket
 * (proto.h).  DESIGN.md, "Processes", says how the kernel's mechanisms map
 * onto it; notes on the plan are in the design file.
 *
 * The library entry points let the command line tool (sgxemu machine) and
 * tests run a machine; they never print and never exit the process.
 */
#ifndef SGXEMU_MACHINE_H
#define SGXEMU_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/cpu.h"

struct sgx_core;
struct sgx_machine;

/* backing_limit_pct value that asks for the core's default (150%). */
#define SGX_MACHINE_BACKING_DEFAULT UINT32_MAX

struct sgx_machine_config {
	const char *socket_path;
	uint64_t epc_bytes; /* the whole EPC, split evenly over the sections */
	unsigned int nr_sections; /* 1..SGX_MAX_EPC_SECTIONS, one NUMA node each */
	uint32_t backing_limit_pct; /* of the EPC; 0: nothing is written back */
	enum sgx_lc_mode lc_mode;
	bool seeded; /* fused keys from seed, else random */
	uint64_t seed;
	/* The socket file's permissions (0: what the umask leaves of 0666). */
	unsigned int socket_mode;
};

/* 64 MiB of EPC in one section, default backing limit, writable launch
 * control, random keys. */
void sgx_machine_config_default(struct sgx_machine_config *cfg);

/*
 * The processor and the core of a machine, made in this one place so that
 * where their state lives (private memory or an arena shared with the
 * clients) is decided here.  0 or the cpu's or core's error.
 */
int sgx_machine_hw_create(const struct sgx_machine_config *cfg, struct sgx_cpu **cpu,
			  struct sgx_core **core);
void sgx_machine_hw_destroy(struct sgx_cpu *cpu, struct sgx_core *core);

/* Where the machine's processor state is shared with clients (hw.c):
 * [base, base + size) reserved, the memfd cpu_fd (cpu_size bytes) mapped
 * at base, enclaves' contents objects elsewhere in the range.  0, or
 * -ENOENT for a cpu sgx_machine_hw_create() did not make. */
struct sgx_machine_arena {
	void *base;
	uint64_t size;
	int cpu_fd;
	uint64_t cpu_size;
};
int sgx_machine_hw_arena(const struct sgx_cpu *cpu, struct sgx_machine_arena *out);

/*
 * Makes the machine and binds its socket.  A path that exists is refused
 * with -EEXIST unless it is a socket nobody listens on (a stale machine's,
 * which is then replaced); a path where a machine answers is -EADDRINUSE.
 * why (if not NULL) receives a sentence on failure.  0 or -errno.
 */
int sgx_machine_create(const struct sgx_machine_config *cfg, struct sgx_machine **out,
		       char *why, size_t why_len);

/*
 * Serves clients until stop_fd (an eventfd, a signalfd, a pipe's read end)
 * becomes readable, then tells every client the machine stops (SHUTDOWN on
 * each connection), waits for the calls in progress to end and releases
 * every handle and enclave.  Returns 0, or -errno when serving failed.
 */
int sgx_machine_serve(struct sgx_machine *m, int stop_fd);

/*
 * Destroys a machine that serves no more: the cores's invariants are
 * checked (a debug build asserts them), the socket file is removed if it
 * is still the one the machine made.  Returns 0, or -EUCLEAN when pages,
 * charges or enclaves were left over.
 */
int sgx_machine_destroy(struct sgx_machine *m);

/* The whole life of a machine in the calling thread: create, serve until
 * stop_fd, destroy.  Reports readiness by writing one byte to ready_fd
 * (if >= 0) once the socket listens.  0 or -errno, with why filled. */
int sgx_machine_run(const struct sgx_machine_config *cfg, int stop_fd, int ready_fd,
		    char *why, size_t why_len);

#endif /* SGXEMU_MACHINE_H */
