/*
 * epc.h: the EPC page cache, the kernel's sgx/main.c page allocator.
 *
 * A page cache (struct sgx_epc) is made over one emulated machine.  At
 * creation it finds the EPC sections as the kernel does (CPUID leaf 0x12,
 * subleaves 2 and up, and the firmware's node of each section), gives every
 * frame a struct sgx_epc_page, and sanitizes the EPC: every frame is taken
 * as dirty and EREMOVEd in two passes (children first, then the SECS pages
 * that still had children), so a page cache made over a machine that holds
 * valid pages (a kexec) still starts with every frame free.
 *
 * Sections belong to NUMA nodes.  Each node keeps its own free list and
 * poison list under its own lock, and every thread that allocates keeps a
 * small cache of free pages of one node per page cache.  An allocation pops
 * a page from the calling thread's cache; an empty cache is refilled in a
 * batch from the thread's local node, then the other nodes are tried
 * round-robin; other threads' caches are stolen from only when reclaim
 * cannot give a page.  A free goes to the thread's cache only while the
 * thread has freed fewer pages than it was handed; other frees (the
 * reclaimer's) go to the node lists, as all do in the kernel.  No
 * machine-wide lock or machine-wide atomic is touched while the thread's
 * cache can serve.
 *
 * Reclaim is not part of this file: the reclaimer registers callbacks
 * (struct sgx_epc_reclaim_ops), and allocation behaves as
 * sgx_alloc_epc_page() in the kernel: -ENOMEM when nothing can be
 * reclaimed, -EBUSY when the caller may not reclaim, otherwise direct reclaim
 * and retry.
 *
 * Memory failure: sgx_epc_poison() quarantines a free page at once and an
 * in-use page when it is freed; its owner learns of it from
 * sgx_epc_page_poisoned().
 *
 * Thread safety: every function may be called from any thread at once,
 * except sgx_epc_create() and sgx_epc_destroy(), which must not overlap any
 * other call on the same page cache.  Several page caches (over several
 * machines) may live in one process.
 */
#ifndef SGXEMU_EPC_H
#define SGXEMU_EPC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/cpu.h"
#include "sgxemu/list.h"

struct sgx_epc;

/* The kernel's watermarks, in pages: below LOW an allocation wakes the
 * reclaimer; the reclaimer works until HIGH pages are free. */
#define SGX_NR_LOW_PAGES 32
#define SGX_NR_HIGH_PAGES 64

/* Largest NUMA node id accepted from the firmware or a thread's pin. */
#define SGX_EPC_MAX_NID 1024

/* Bound on a thread cache's capacity (struct sgx_epc_config.tcache_pages). */
#define SGX_EPC_TCACHE_MAX 256

enum sgx_epc_numa_policy {
	/* The kernel's: the thread's local node first, then the others in
	 * ascending node order, wrapping (next_node_in()). */
	SGX_EPC_NUMA_LOCAL = 0,
	/* Each refill of a thread's cache starts at the next node in turn, so
	 * a thread's pages spread over every node. */
	SGX_EPC_NUMA_INTERLEAVE,
};

struct sgx_epc_config {
	uint64_t low_watermark; /* SGX_NR_LOW_PAGES */
	uint64_t high_watermark; /* SGX_NR_HIGH_PAGES; >= low_watermark */
	enum sgx_epc_numa_policy numa_policy;
	/* Capacity of each thread's cache: 0 picks one from the EPC's size
	 * (total/64, between 2 and 64); otherwise 2..SGX_EPC_TCACHE_MAX. */
	unsigned int tcache_pages;
};

void sgx_epc_config_default(struct sgx_epc_config *cfg);

/* page->flags.  The page cache sets flags to IS_FREE when a page is freed
 * and to 0 when it is handed out; in between the flags are the owner's and
 * the reclaimer's, guarded by their locks. */
#define SGX_EPC_PAGE_RECLAIMER_TRACKED (1U << 0)
#define SGX_EPC_PAGE_IS_FREE (1U << 1)
/* Bits from here up are free for owners and the reclaimer to define. */
#define SGX_EPC_PAGE_OWNER_SHIFT 8

/*
 * One EPC frame.  All of them are allocated when the page cache is made and
 * live until it is destroyed.
 *
 * While a page is in use, owner, flags and list are the owner's (the
 * reclaimer threads its LRU through list).  While it is free they are the
 * page cache's.  poison is separate from flags because memory failure sets
 * it from any thread while the owner changes flags under its own lock; it is
 * only ever set, never cleared.
 */
struct sgx_epc_page {
	void *addr; /* EPC address of the frame */
	uint16_t section; /* index of its EPC section */
	uint16_t node; /* index of its node (sgx_epc_node_stats()) */
	uint8_t state; /* page cache private: where the page is */
	_Atomic uint8_t poison; /* 1 after sgx_epc_poison() */
	uint32_t flags; /* SGX_EPC_PAGE_* */
	void *owner;
	struct list_head list;
};

/*
 * Creates a page cache over cpu: discovers the sections, allocates the page
 * structs and sanitizes every frame.  cfg may be NULL for the defaults.
 * Frames that machine-check during sanitization (poisoned before the page
 * cache existed), and SECS pages kept valid by such a child, are
 * quarantined (and marked poisoned).  Returns 0, -EINVAL for a bad config,
 * -ENODEV for a machine reporting no EPC section, -ENOMEM, or -EBUSY when some
 * frame could not be EREMOVEd in two passes (a thread is inside an enclave).
 * Costs one EREMOVE per frame, two for SECS pages with children.
 */
int sgx_epc_create(struct sgx_cpu *cpu, const struct sgx_epc_config *cfg,
		   struct sgx_epc **out);

/*
 * Destroys a page cache.  Every page must be free or quarantined (checked
 * by an assertion in debug builds); the pages of every thread's cache are
 * taken back, so threads that used the page cache may still be alive (they
 * must not call into it again).
 */
void sgx_epc_destroy(struct sgx_epc *epc);

struct sgx_cpu *sgx_epc_cpu(const struct sgx_epc *epc);

/*
 * Reclaim callbacks, registered by the reclaimer.  All take the ctx given
 * to sgx_epc_set_reclaimer() and are called without any page cache lock
 * held, so they may allocate and free pages.
 */
struct sgx_epc_reclaim_ops {
	/* Something could be reclaimed (the kernel: the active list is not
	 * empty). */
	bool (*can_reclaim)(void *ctx);
	/* Reclaims one batch in the caller's thread.  Returns the number of
	 * pages freed (0 is allowed; the allocation then yields and tries
	 * again), or a negative errno that ends the allocation with that
	 * error (-EINTR, as a pending signal does in the kernel). */
	int (*reclaim_direct)(void *ctx);
	/* The free count fell below the low watermark: wake the reclaimer
	 * thread.  May be NULL. */
	void (*wake)(void *ctx);
};

/*
 * Registers (ops != NULL) or removes (ops == NULL) the reclaimer.  When this
 * returns, no call to the previous callbacks is running or will be made.
 * Without a reclaimer nothing can be reclaimed.  Must not be called from a
 * callback (it waits for the callbacks to return).
 */
void sgx_epc_set_reclaimer(struct sgx_epc *epc, const struct sgx_epc_reclaim_ops *ops,
			   void *ctx);

/*
 * Allocates a page for owner, as the kernel's sgx_alloc_epc_page():
 *   0        *out is a page, flags 0, owner set;
 *   -ENOMEM  no free page and nothing can be reclaimed;
 *   -EBUSY   no free page and reclaim is false;
 *   -EINTR   no free page, and the calling thread was told to stop
 *            (sgx_epc_thread_set_stop()) before a direct reclaim: the
 *            kernel's -ERESTARTSYS on signal_pending();
 *   -errno   the error reclaim_direct returned;
 *   -EINVAL  a NULL argument.
 * The page's list is empty (linked to itself).
 * With reclaim true the caller reclaims directly until a page is free.
 * Afterwards the reclaimer is woken if the free count (estimated from the
 * node lists, without any machine-wide lock) is below the low watermark;
 * that check is made only when the thread's cache could not serve.
 * The page's frame is invalid in the EPCM (freed pages are EREMOVEd by
 * their owners, see sgx_free_epc_page()).
 */
int sgx_alloc_epc_page(struct sgx_epc *epc, void *owner, bool reclaim,
		       struct sgx_epc_page **out);

/*
 * How the calling thread's waits for EPC stop, as a signal stops a task's
 * in the kernel: an allocation that found no free page and is about to
 * reclaim directly returns -EINTR instead when
 *   - flag is not NULL and *flag is true (set it from any thread, or from
 *     a signal handler), or
 *   - signals is true and a signal is pending for the thread (sigpending())
 *     that mask does not block.  In user space a signal the thread does
 *     not block is delivered at once, so a caller that wants signals to
 *     stop its waits blocks them around the call, as entering the kernel
 *     defers them, and passes its own mask from outside the call as mask:
 *     what is then pending and not in mask is what signal_pending() sees.
 * The driver turns -EINTR into -ERESTARTSYS or a partial count.  Applies
 * to every page cache, in this thread only, until changed; NULL turns it
 * off (the default: waits are not stopped).  0, or -EINVAL when stop asks
 * for nothing.
 */
struct sgx_epc_stop {
	const atomic_bool *flag;
	bool signals;
	sigset_t mask;
};
int sgx_epc_thread_set_stop(const struct sgx_epc_stop *stop);

/*
 * Frees a page.  As in the kernel, the caller EREMOVEs the frame first
 * (sgx_encl_free_epc_page() does EREMOVE, then sgx_free_epc_page()); this
 * function does not touch the EPCM.  A poisoned page is quarantined here:
 * the owner frees it even when its EREMOVE machine-checked.  The page must
 * not be on any of the owner's lists.  Freeing a page of another page cache
 * is ignored (an assertion in debug builds).
 */
void sgx_free_epc_page(struct sgx_epc *epc, struct sgx_epc_page *page);

/* Free pages, summed from the per-node counts and the counts of every
 * thread's cache.  Exact when no allocation runs, otherwise a recent
 * value.  Takes the page cache's registry lock, never the node locks. */
uint64_t sgx_epc_nr_free(struct sgx_epc *epc);

/*
 * What the allocation paths did since creation, and where the free pages
 * are now.  The README promises no machine-wide lock or atomic while a
 * thread's cache can serve; these say how often it could not:
 *   allocs        pages handed out;
 *   steals        of those, pages taken out of another thread's cache (the
 *                 last resort, under the registry lock);
 *   global_locks  takes of the registry lock, the page cache's one
 *                 machine-wide lock, by sgx_alloc_epc_page() and
 *                 sgx_free_epc_page(): steals and a thread's first
 *                 allocation;
 *   wake_locks    takes of the reclaim lock by allocations to wake the
 *                 reclaimer (the takes to reclaim directly are counted by
 *                 the core as direct_reclaims);
 *   listed        free pages on the node lists, where any thread finds them;
 *   cached        free pages in thread caches.
 * Takes the registry lock (not counted).  0, or -EINVAL.
 */
struct sgx_epc_stats {
	uint64_t allocs;
	uint64_t steals;
	uint64_t global_locks;
	uint64_t wake_locks;
	uint64_t listed;
	uint64_t cached;
};
int sgx_epc_stats(struct sgx_epc *epc, struct sgx_epc_stats *st);

/* Free pages on the node lists, where any thread finds them: the count
 * the reclaimer's wake-up and stop tests read.  Takes no lock; a recent
 * value while allocations run. */
uint64_t sgx_epc_nr_free_listed(struct sgx_epc *epc);

/* Frames in the page cache; quarantined (poisoned) frames. */
uint64_t sgx_epc_nr_total(const struct sgx_epc *epc);
uint64_t sgx_epc_nr_poisoned(struct sgx_epc *epc);

/* True when fewer than watermark pages are free and something can be
 * reclaimed: the reclaimer thread's loop condition (the kernel's
 * sgx_should_reclaim()).  Free here is sgx_epc_nr_free_listed(), after
 * the caches of threads that stopped allocating went back to the lists
 * (at most one such sweep every 50 ms): the count the allocations' test
 * for waking the reclaimer reads. */
bool sgx_epc_should_reclaim(struct sgx_epc *epc, uint64_t watermark);

/* The configured watermarks. */
uint64_t sgx_epc_low_watermark(const struct sgx_epc *epc);
uint64_t sgx_epc_high_watermark(const struct sgx_epc *epc);

/* The page whose frame holds addr (any address inside the frame), or NULL
 * if addr is not in this page cache's EPC. */
struct sgx_epc_page *sgx_epc_page_from_addr(struct sgx_epc *epc, const void *addr);

/*
 * Memory-failure injection, as the kernel's sgx_memory_failure(): marks
 * the page poisoned and tells the machine (sgx_cpu_poison()), so the next
 * leaf on the frame machine-checks.  A free page (on a node list or in any
 * thread's cache) moves to its node's poison list at once and is never
 * handed out again; an in-use page stays with its owner and is quarantined
 * when freed.  Poisoning a page twice does nothing more.  Briefly stops
 * every allocation and free of this page cache.  Returns 0, -EINVAL for a
 * page not of this page cache, or the machine's error.
 */
int sgx_epc_poison(struct sgx_epc *epc, struct sgx_epc_page *page);

/* True once the page was poisoned: owners check this on each access to the
 * page and give the page up (the kernel sends SIGBUS). */
static inline bool sgx_epc_page_poisoned(const struct sgx_epc_page *page)
{
	return atomic_load_explicit(&page->poison, memory_order_acquire) != 0;
}

/*
 * NUMA.  Nodes are numbered 0..sgx_epc_nr_nodes()-1 in ascending node id;
 * page->node is such an index.  A thread's local node is the host node of
 * the CPU it runs on (sched_getcpu() and /sys/devices/system/node), looked
 * up again each time its cache is refilled; a thread may pin itself to a
 * node id instead (tests, placement experiments).  A local node without EPC
 * falls back to the next node id that has some, as the kernel does.
 */
unsigned int sgx_epc_nr_nodes(const struct sgx_epc *epc);

struct sgx_epc_node_stats {
	int nid; /* NUMA node id */
	uint64_t total; /* frames */
	uint64_t free; /* on the node's free list and in thread caches */
	uint64_t cached; /* of free: in thread caches */
	uint64_t poisoned; /* quarantined on the node's poison list */
	uint64_t poison_pending; /* poisoned while in use, not yet freed */
	uint64_t in_use; /* total - free - poisoned */
};

/* Statistics of node index; -EINVAL for an index out of range.  Exact when
 * no allocation runs. */
int sgx_epc_node_stats(struct sgx_epc *epc, unsigned int index, struct sgx_epc_node_stats *st);

/* Pins the calling thread's local node for this page cache to nid
 * (0 <= nid < SGX_EPC_MAX_NID), or unpins it with nid -1.  Pages cached for
 * the old node go back to their node.  0, -EINVAL, or -ENOMEM. */
int sgx_epc_thread_set_node(struct sgx_epc *epc, int nid);

/* The node index the calling thread allocates from first. */
unsigned int sgx_epc_thread_node(struct sgx_epc *epc);

/* EPC sections as discovered, for statistics and tests. */
struct sgx_epc_section_info {
	void *base;
	uint64_t size; /* bytes */
	int nid;
	unsigned int node; /* node index */
};
unsigned int sgx_epc_nr_sections(const struct sgx_epc *epc);
int sgx_epc_section_info(const struct sgx_epc *epc, unsigned int index,
			 struct sgx_epc_section_info *info);

/*
 * Checks the page cache's invariants while briefly stopping every
 * allocation and free: every page is in exactly one place (a node's free
 * list, a thread's cache, a poison list, or in use), each place's counter
 * matches its contents, and per node and overall
 *     free + in use + poisoned == total.
 * Returns 0, or -EUCLEAN with the first broken invariant described in why
 * (if not NULL).  Debug builds (SGXEMU_DEBUG) also run it at creation and
 * destruction.  Costs a walk over every page.
 */
int sgx_epc_check(struct sgx_epc *epc, char *why, size_t why_len);

#endif /* SGXEMU_EPC_H */
