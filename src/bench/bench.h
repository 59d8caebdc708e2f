/*
 * bench.h: the measurements behind `sgxemu bench epc` (src/tools/bench_epc.c
 * prints them).  They stand on the public calls of the page cache (epc.h),
 * the core (core.h), enclaves (encl.h) and views (view.h) only, so they
 * live beside the command rather than in the core.  Nothing is printed.
 */
#ifndef SGXEMU_BENCH_BENCH_H
#define SGXEMU_BENCH_BENCH_H

#include <stdint.h>

#include "sgxemu/cpu.h"

/*
 * Allocation (epc_bench.c).  cpu must be a machine with no valid EPC page
 * that nothing else uses (the page cache sanitizes it).  threads
 * (1..64) threads each run iterations (1..1e10) alloc+free pairs after a
 * warm-up; *ns_per_pair receives the wall time divided by threads *
 * iterations, the inverse of the throughput.  0, -EINVAL, -ENOMEM, or the
 * page cache's creation error.  Nothing is printed.
 */
int sgx_epc_bench_alloc(struct sgx_cpu *cpu, unsigned int threads, uint64_t iterations,
			double *ns_per_pair);
/* The same work on one free list under one mutex with one shared atomic
 * free count (the kernel's sgx_nr_free_pages), for comparison. */
int sgx_epc_bench_mutex_baseline(struct sgx_cpu *cpu, unsigned int threads,
				 uint64_t iterations, double *ns_per_pair);

/*
 * Reclaim (bench_reclaim.c), `sgxemu bench epc`'s reclaim_pages_per_s: on
 * a machine cpu with no valid EPC page that nothing else uses, makes a core
 * and one enclave of encl_pages pages (at least 2 times the EPC), then
 * touches every page in order, passes times (1..1000), so that the
 * reclaimer streams pages out and the owner faults them back.  *pages_per_s receives the pages
 * written back per second of the touching passes.  0, -EINVAL, -ENOMEM, or
 * an error of the core or enclave.  Nothing is printed.
 */
int sgx_bench_reclaim(struct sgx_cpu *cpu, uint64_t encl_pages, unsigned int passes,
		      double *pages_per_s);

/* The same run, with what the page cache's allocation paths did during the
 * touching passes (struct sgx_epc_stats) and where the free pages were at
 * their end. */
struct sgx_bench_reclaim {
	double pages_per_s;
	uint64_t allocs; /* pages handed out */
	uint64_t steals; /* of those, taken from another thread's cache */
	uint64_t global_locks; /* registry lock takes by allocs and frees */
	uint64_t wake_locks; /* reclaim lock takes by allocs to wake the reclaimer */
	uint64_t direct_reclaims; /* batches reclaimed by allocations */
	uint64_t free_end; /* free pages after the last touch */
	uint64_t listed_end; /* of those, on the node lists */
};
int sgx_bench_reclaim_run(struct sgx_cpu *cpu, uint64_t encl_pages, unsigned int passes,
			  struct sgx_bench_reclaim *out);

/*
 * Views (bench_view.c), `sgxemu bench epc`'s view_* keys: on a machine cpu
 * with no valid EPC page that nothing else uses, makes a core and an
 * enclave of 16 pages with a view, and measures per round, iterations rounds each:
 *   minor_fault_us  MADV_DONTNEED of a page (the aging's zap), then a touch
 *                   through the view: minor fault, handler, map;
 *   eldu_fault_us   a touch of a page just written back: missing fault,
 *                   handler, ELDU, map (the write-back is not timed);
 *   uffd_floor_us   the floor: the same zap and touch on a bare shared
 *                   memfd mapping whose handler thread only maps;
 *   zap_us          MADV_DONTNEED of one page alone;
 * each with the handler threads on the caller's CPU, and again (the
 * *_cross_us figures) on another CPU it may run on: the first two CPUs
 * of its affinity mask, which is restored afterwards.
 * 0, -EINVAL, the errors of sgx_encl_view_create() where userfaultfd is
 * not available, or an error of the core.  Nothing is printed.
 */
struct sgx_bench_view {
	double minor_fault_us;
	double eldu_fault_us;
	double uffd_floor_us;
	double zap_us;
	/* The same with the handler threads on another CPU than the touching
	 * thread (0 where the caller may run on one CPU only). */
	double minor_fault_cross_us;
	double eldu_fault_cross_us;
	double uffd_floor_cross_us;
};
int sgx_bench_view(struct sgx_cpu *cpu, unsigned int iterations, struct sgx_bench_view *out);

/*
 * The ECALL round trip through the runtime's enter function against the
 * bare ENCLU trap of this host, interleaved in rounds of 500 (bench_ecall.c):
 * iterations of each (at least 500), p50 and p99 in microseconds, and the
 * ratio of the p50s.  image is the sample enclave, signed with key.  It
 * installs the runtime's signal handlers on a machine of its own, which
 * stays for the rest of the process.  0, or -errno (-EINVAL when the
 * runtime already serves another machine).
 */
typedef struct evp_pkey_st EVP_PKEY;
struct sgx_bench_ecall {
	uint64_t iterations;
	double ecall_p50_us, ecall_p99_us;
	double trap_p50_us, trap_p99_us;
	double ecall_ratio;
};
int sgx_bench_ecall(const char *image, EVP_PKEY *key, uint64_t iterations,
		    struct sgx_bench_ecall *out);

/*
 * bench run's other parts (bench_run.c).
 *
 * The signal this host raises for ENCLU outside an enclave: SIGILL (#UD)
 * or SIGSEGV (#GP), found by raising it once.
 */
int sgx_bench_enclu_signal(void);

/*
 * The floor of a touch of a written-back page: a bare userfaultfd minor
 * fault on a shared memfd mapping (the page zapped, untimed, then
 * touched), served by a handler thread that only maps it (UFFDIO_CONTINUE:
 * the views' serving mode), then one AES-128-GCM encryption of a page with
 * its tag (EVP), each sample both in a row; iterations samples, p50 and
 * p99 in microseconds, and the p50 of each part.  0, -EINVAL, -ENOMEM,
 * -EOPNOTSUPP (no minor faults on shared memory here) or -EPERM (no
 * userfaultfd).
 */
struct sgx_bench_fault_floor {
	uint64_t iterations;
	double floor_p50_us, floor_p99_us;
	double uffd_p50_us, aes_gcm_p50_us;
};
int sgx_bench_fault_floor(uint64_t iterations, struct sgx_bench_fault_floor *out);

/*
 * ADD_PAGES of an enclave of size bytes (a power of two; every page a
 * measured RW page) through a private machine (the sgxemu binary at
 * sgxemu, with an EPC that holds the enclave, so nothing is written back)
 * beside sgx_encl_add_page() on a core in this process with the same EPC,
 * taking turns for rounds builds each after a first, untimed build on
 * the machine; the best of each counts.  The machine must end empty and
 * exit 0 (else -EUCLEAN).  The caller's runtime must not be attached to
 * another machine's processor.  0 or -errno.
 */
struct sgx_bench_add_pages {
	uint64_t size, pages, epc_bytes;
	double machine_pages_per_s;
	double core_pages_per_s;
	double ratio; /* machine over core */
};
int sgx_bench_add_pages(const char *sgxemu, uint64_t size, unsigned int rounds,
			struct sgx_bench_add_pages *out);

#endif /* SGXEMU_BENCH_BENCH_H */
