/*
 * core.h: the kernel's SGX core over one emulated machine: the page cache
 * (epc.h), the reclaimer thread (ksgxd) with its LRU of reclaimable pages,
 * the machine-wide limit on backing pages and the statistics.  Enclaves
 * (encl.h) are made inside a core.
 *
 * A core holds no global state: several cores, over several machines, may
 * live in one process.
 *
 * Reclaim.  Pages an enclave adds or loads go to the tail of the core's LRU.
 * When an allocation leaves fewer than the low watermark of pages free, the
 * reclaimer thread wakes and reclaims batches until the high watermark is
 * free again; an allocation that finds no free page reclaims a batch itself
 * (direct reclaim).  A batch takes pages from the LRU head, ages them (a page
 * touched since the last scan goes back to the tail), then writes the rest
 * back: EBLOCK, ETRACK and EWB with the kernel's retry sequence, into the
 * enclave's backing object.  When the last resident child of an initialized
 * enclave leaves, its SECS is written back too.
 *
 * Backing accounting.  Every page written back, and every page of PCMD
 * records in use, is charged against a machine-wide limit (by default 150%
 * of the EPC).  A write-back that would pass the limit is not made: the page
 * stays resident.  A page is uncharged when it is loaded again (its backing
 * is then punched out) or its enclave is released.  A limit of 0 means no
 * page is ever written back.
 *
 * Thread safety: every function may be called from any thread, except that
 * sgx_core_destroy() must not overlap any other call on the core.
 */
#ifndef SGXEMU_EPC_CORE_H
#define SGXEMU_EPC_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "sgxemu/cpu.h"
#include "sgxemu/epc.h"

struct sgx_core;

/* The kernel's batch: pages taken from the LRU per reclaim round. */
#define SGX_NR_TO_SCAN 16
#define SGX_RECLAIM_BATCH_MAX 64

/* backing_limit value that asks for the default: 150% of the EPC. */
#define SGX_BACKING_LIMIT_DEFAULT UINT64_MAX

/* When an enclave's version-array (VA) pages are made and freed. */
enum sgx_va_policy {
	/* The kernel's (sgx_encl_grow(), sgx_encl_shrink()): one VA page for
	 * every 512 pages an enclave has, its SECS included, made with the
	 * page that needs it (at ECREATE, then every 512th EADD) and kept
	 * until the enclave is released, whether anything is written back or
	 * not.  EPC counters then read as a kernel's. */
	SGX_VA_POLICY_KERNEL,
	/* As many as the pages written back need: the first with the SECS, a
	 * write-back that takes the last free slot turns the frame it has
	 * just freed into the next one, and a VA page that empties is freed
	 * while the others keep some free slots.  Fewer frames held for
	 * enclaves that are mostly resident. */
	SGX_VA_POLICY_ON_DEMAND,
};

/* "kernel", "on-demand", or NULL for a value outside the enum. */
const char *sgx_va_policy_name(enum sgx_va_policy policy);
/* The policy a name gives: 0, or -EINVAL for an unknown name. */
int sgx_va_policy_parse(const char *name, enum sgx_va_policy *policy);

/*
 * What happens to the host memory of a page's contents when the page
 * leaves the EPC (its write-back ends).
 *
 *   keep     the page of the contents object is zeroed and kept, so that
 *            its next load decrypts into memory the host has already
 *            given: a load costs its decryption and little more.  The
 *            contents object then holds every page ever resident (at most
 *            the enclave's size), as a program's own memory would.
 *   release  the page is punched out (one fallocate() per run of
 *            consecutive pages), so the host memory of the contents
 *            objects is that of the resident pages, the EPC's size at
 *            most; each load then faults a fresh page into the object
 *            (measured here: a punch 3.8-6.2 us and the first write into
 *            the punched page 4.7-5.2 us, against 1.1 us of AES-GCM).
 */
enum sgx_contents_policy {
	SGX_CONTENTS_KEEP,
	SGX_CONTENTS_RELEASE,
};

/* "keep", "release", or NULL for a value outside the enum. */
const char *sgx_contents_policy_name(enum sgx_contents_policy policy);
/* The policy a name gives: 0, or -EINVAL for an unknown name. */
int sgx_contents_policy_parse(const char *name, enum sgx_contents_policy *policy);

/*
 * Where an enclave's contents object (encl.h) is mapped in the core's
 * process.  By default mmap() chooses; a machine whose clients run ENCLU
 * on its state places it inside its arena (cpu.h), so that clients can
 * map the same memfd at the same address and every frame's bytes pointer
 * means the same page in each of them.  map() maps size bytes of fd
 * (MAP_SHARED, readable and writable) and returns the address in *addr,
 * or a negative errno; unmap() undoes it.  Both are called with the
 * enclave's lock held or from its teardown, so they must not call back
 * into the core.
 */
struct sgx_core_contents_ops {
	int (*map)(void *ctx, int fd, uint64_t size, void **addr);
	void (*unmap)(void *ctx, void *addr, uint64_t size);
	void *ctx;
};

struct sgx_core_config {
	/* Page cache: watermarks, NUMA policy, thread caches. */
	struct sgx_epc_config epc;
	/* Pages of backing storage that may be charged at once, machine
	 * wide; 0: nothing is ever written back. */
	uint64_t backing_limit;
	/* Pages per reclaim batch, 1..SGX_RECLAIM_BATCH_MAX. */
	unsigned int batch;
	/* Without the reclaimer thread only direct reclaim (and
	 * sgx_encl_evict()) writes pages back: for tests that want the
	 * reclaimer's timing out of the way. */
	bool no_reclaimer_thread;
	/* How long EWB waits, in microseconds, for threads that were inside
	 * the enclave before the ETRACK to leave (the kernel's IPI) before it
	 * gives the page up for this round.  0 picks 20000. */
	unsigned int ipi_wait_us;
	/* VA pages: the kernel's policy (the default) or on demand. */
	enum sgx_va_policy va_policy;
	/* Host memory of pages that left the EPC (default keep). */
	enum sgx_contents_policy contents_policy;
	/* Contents placement; NULL: mmap() chooses.  Copied at creation. */
	const struct sgx_core_contents_ops *contents_ops;
};

void sgx_core_config_default(struct sgx_core_config *cfg);

/*
 * Creates a core over cpu: makes its page cache (which sanitizes the EPC),
 * registers the reclaimer with it and starts the reclaimer thread.  cfg
 * may be NULL for the defaults.  Returns 0, -EINVAL for a bad config, or
 * the page cache's or thread creation's error.  The cpu must outlive the
 * core.
 */
int sgx_core_create(struct sgx_cpu *cpu, const struct sgx_core_config *cfg,
		    struct sgx_core **out);

/*
 * Stops the reclaimer thread and destroys the page cache.  Every enclave
 * must have been released first (a debug build asserts it).
 */
void sgx_core_destroy(struct sgx_core *core);

struct sgx_cpu *sgx_core_cpu(const struct sgx_core *core);
struct sgx_epc *sgx_core_epc(const struct sgx_core *core);

/* The backing limit in pages.  Lowering it below what is charged uncharges
 * nothing: later write-backs fail until enough pages come back. */
uint64_t sgx_core_backing_limit(struct sgx_core *core);
void sgx_core_set_backing_limit(struct sgx_core *core, uint64_t pages);

/*
 * Reclaims one batch in the calling thread, as an allocation that found no
 * free page does.  Returns the number of EPC pages freed (0 when every
 * page taken was young, busy or could not be written back), or -ENOMEM when
 * nothing was freed because the backing limit was reached.  The caller must
 * hold no enclave lock (it holds none when it is outside this library).
 */
int sgx_core_reclaim(struct sgx_core *core);

/*
 * Waits until no reclaim batch runs in any thread, so that enclaves the
 * reclaimer held while their owners released them are torn down.  Used by
 * tests before they check that every page came back.
 */
void sgx_core_quiesce(struct sgx_core *core);

#define SGX_CORE_STATS_MAX_NODES SGX_MAX_EPC_SECTIONS

struct sgx_core_node_stats {
	int nid;
	uint64_t total;
	uint64_t free;
	uint64_t poisoned;
};

/* Everything `sgxemu stat` shows.  Counters count since the core was made. */
struct sgx_core_stats {
	/* Page cache. */
	uint64_t epc_total;
	uint64_t epc_free;
	uint64_t epc_poisoned; /* quarantined frames */
	/* Frames EREMOVE refused, kept out of use while the machine lives:
	 * the SECS of an enclave whose child page machine-checks (its child
	 * count cannot drop), or a page removed while threads were inside. */
	uint64_t epc_leaked;
	/* Kept frames EREMOVEd again (at most every 10 ms, on a free by an
	 * enclave), and those then removed and freed. */
	uint64_t epc_leak_retries;
	uint64_t epc_leak_recovered;
	/* The page cache's paths (sgx_epc_stats()): pages handed out, those
	 * stolen from another thread's cache, registry lock and reclaim lock
	 * (to wake the reclaimer) takes by allocations and frees; free pages
	 * on the node lists now. */
	uint64_t epc_allocs;
	uint64_t epc_steals;
	uint64_t epc_global_locks;
	uint64_t epc_wake_locks;
	uint64_t epc_listed;
	unsigned int nr_nodes;
	struct sgx_core_node_stats nodes[SGX_CORE_STATS_MAX_NODES];
	/* Enclaves and the LRU. */
	uint64_t enclaves;
	uint64_t lru_pages; /* reclaimable pages on the LRU */
	/* Paging. */
	uint64_t pages_written_back; /* EWB of child pages */
	uint64_t secs_written_back;
	uint64_t pages_loaded; /* ELDU of child pages */
	uint64_t secs_loaded;
	uint64_t load_failures; /* ELDU refused (MAC, version) or faulted */
	/* The fault path of mappings (sgx_encl_fault()): calls that made the
	 * page usable, and of those the ones that loaded it (ELDU). */
	uint64_t faults;
	uint64_t faults_loaded;
	/* EWB retries by cause, as the kernel's three-stage EWB. */
	uint64_t ewb_retry_etrack; /* SGX_NOT_TRACKED: ETRACK and retry */
	uint64_t ewb_retry_ipi; /* still not tracked: wait for threads to leave */
	uint64_t ewb_gave_up; /* threads stayed inside: page left resident */
	uint64_t ewb_failures; /* any other refusal: page left resident */
	/* Tracking, enclave by enclave: a batch runs at most one ETRACK that
	 * begins an epoch and one wait per enclave whose pages are not
	 * tracked, each with one kick (two if its ETRACK went through only
	 * during the wait), and its waits overlap: one ipi_wait_us at most
	 * per batch. */
	uint64_t ewb_etracks; /* ETRACKs that began an epoch */
	uint64_t ewb_kicks; /* threads inside asked to leave (the kernel's IPI) */
	uint64_t ewb_ipi_waits; /* enclaves waited for */
	uint64_t ewb_batch_waits; /* batches that waited */
	/* EBLOCK and ETRACK run again after SGX_EPC_PAGE_CONFLICT: a leaf
	 * outside the core held the page (a debugger's, say; encls.h). */
	uint64_t conflict_retries;
	/* Aging: a page taken from the LRU head was young (hit, it goes back
	 * to the tail) or old (miss, it is written back). */
	uint64_t age_hits;
	uint64_t age_misses;
	/* Backing accounting. */
	uint64_t backing_limit;
	uint64_t backing_charged; /* content pages + PCMD pages charged now */
	uint64_t backing_limit_hits; /* write-backs not made: limit reached */
	/* VA pages. */
	enum sgx_va_policy va_policy;
	uint64_t va_pages;
	uint64_t va_slots_used;
	/* Reclaimer. */
	uint64_t reclaim_batches;
	uint64_t direct_reclaims;
	uint64_t reclaimer_wakeups;
	/* Owners that met a poisoned page. */
	uint64_t poison_errors;
};

/* Fills st.  Exact when nothing runs; otherwise each field is a recent
 * value.  Returns 0, or -EINVAL for NULL arguments. */
int sgx_core_stats(struct sgx_core *core, struct sgx_core_stats *st);

/*
 * Checks the core's invariants, enclave by enclave, under each enclave's
 * lock:
 *   charged backing == pages written back (and in flight) + PCMD pages in use
 *   VA slots in use == pages written back (and EWBs in progress)
 *   resident children == the SECS's child count as the core tracks it
 * and, if quiescent (no owner call and no reclaim runs: call
 * sgx_core_quiesce() after stopping the owners), that the machine-wide
 * charge, VA page and VA slot counts are the sums over enclaves.  Returns
 * 0 or -EUCLEAN with the first broken invariant in why (if not NULL).
 * Costs a walk over every enclave page.  Debug builds run the per-enclave
 * part when an enclave is torn down.
 */
int sgx_core_check(struct sgx_core *core, bool quiescent, char *why, size_t why_len);

#endif /* SGXEMU_EPC_CORE_H */
