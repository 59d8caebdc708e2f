/*
 * page_cache.c: the EPC page cache (see epc.h), the kernel's sgx/main.c
 * allocator with its global counter replaced by per-node and per-thread
 * ones.
 *
 * Where a free page lives:
 *   - on its node's free_list (struct epc_node, under node->lock), or
 *   - in a thread cache (struct epc_tcache, under tc->lock): a small stack
 *     of pages of one node, one cache per (thread, page cache).
 * A quarantined page lives on its node's poison_list.  page->state says
 * which; it is written only under the lock of the place the page enters or
 * leaves.
 *
 * The fast path takes only the calling thread's tc->lock, a spinlock that
 * only that thread takes in the common case (other threads take it to steal
 * a page when reclaim cannot give one, to give an idle thread's pages back,
 * to stop the world for memory failure or an invariant check, and when the
 * page cache is destroyed).  The free count is the sum of node->nr_free and
 * every cache's nr_cached; each is written by one lock holder as a relaxed
 * atomic, so the summing side needs no lock but the registry's, and the
 * fast path no read-modify-write on shared memory.
 *
 * Pages reach the node lists as the kernel's do: a thread frees into its
 * cache only as many pages as it was handed (tc->out), so the reclaimer's
 * frees go to the lists; a cache whose thread stopped allocating is sent
 * back by the reclaimer's stop test (epc_sweep_idle()); and the reclaimer's
 * wake-up and stop tests both read the lists' count, so it never stops
 * short of the count that woke it.
 *
 * Locks, in the order they nest:
 *   epc->reclaim_lock (read, around reclaim callbacks; no other lock held)
 *   epc->tcache_lock  (the registry of thread caches)
 *   tc->lock          (one at a time, except while the world is stopped:
 *                      then all of them, in registry order, under the
 *                      registry lock)
 *   node->lock        (ascending node index when several are held)
 *
 * Thread caches outlive neither their thread nor their page cache: a cache
 * holds two references, one for the thread (dropped at thread exit, or when
 * the thread finds the page cache gone) and one for the registry (dropped
 * when the page cache is destroyed, or when the registry finds the thread
 * gone).  A cache's epc pointer becomes NULL when the page cache is
 * destroyed, under tc->lock, so a thread that exits at that moment either
 * flushes its pages first or finds nothing to flush.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/debug.h"
#include "sgxemu/epc.h"


#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* page->state */
enum epc_page_state {
	EPC_PAGE_IN_USE = 0, /* handed out: owner, flags and list are the owner's */
	EPC_PAGE_DIRTY, /* not sanitized yet (only during creation) */
	EPC_PAGE_NODE_FREE, /* on its node's free_list */
	EPC_PAGE_CACHED, /* in a thread cache's pages[] */
	EPC_PAGE_QUARANTINED, /* on its node's poison_list */
};

/* Host CPUs looked up in /sys; CPUs past this count as node 0. */
#define EPC_MAX_HOST_CPUS 8192

/* ---- A spinlock for the thread caches ------------------------------------ */

struct epc_spinlock {
	atomic_int locked;
};

static void epc_spin_lock_slow(struct epc_spinlock *l)
{
	unsigned int spins = 0;

	for (;;) {
		while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
			/* The holder may be preempted: do not burn its CPU. */
			if (++spins < 100) {
#if defined(__x86_64__) || defined(__i386__)
				__builtin_ia32_pause();
#endif
			} else {
				sched_yield();
				spins = 0;
			}
		}
		if (!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
			return;
	}
}

static inline void epc_spin_lock(struct epc_spinlock *l)
{
	if (likely(!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)))
		return;
	epc_spin_lock_slow(l);
}

static inline void epc_spin_unlock(struct epc_spinlock *l)
{
	atomic_store_explicit(&l->locked, 0, memory_order_release);
}

static inline __attribute__((unused)) bool epc_spin_is_locked(struct epc_spinlock *l)
{
	return atomic_load_explicit(&l->locked, memory_order_relaxed) != 0;
}

/* A counter written only by holders of one lock and read by anyone:
 * relaxed loads and stores, no read-modify-write. */
static inline void counter_add(_Atomic uint64_t *c, int64_t delta)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

static inline uint64_t counter_read(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- Structures ---------------------------------------------------------- */

struct epc_section {
	void *base;
	uint64_t size;
	uint64_t nr_pages;
	uint64_t first; /* index of its first page among all pages */
	struct sgx_epc_page *pages;
	int nid;
	unsigned int node; /* node index */
};

/*
 * A NUMA node with EPC.  Invariant (under lock):
 *     nr_free == length(free_list), nr_poisoned == length(poison_list),
 *     nr_free + cached pages of the node + pages in use + nr_poisoned
 *         == nr_total.
 */
struct epc_node {
	pthread_mutex_t lock; /* guards free_list, poison_list, the counters' writes */
	struct list_head free_list; /* EPC_PAGE_NODE_FREE pages, FIFO */
	struct list_head poison_list; /* EPC_PAGE_QUARANTINED pages */
	_Atomic uint64_t nr_free;
	_Atomic uint64_t nr_poisoned;
	_Atomic uint64_t nr_poison_pending; /* poisoned while in use */
	uint64_t nr_total;
	int nid;
} __attribute__((aligned(64)));

/*
 * One thread's cache of free pages of one node for one page cache.
 * Invariant (under lock): nr <= epc->tcache_cap, nr == nr_cached, and every
 * pages[i < nr] is EPC_PAGE_CACHED, not poisoned, of node `node`.
 *
 * A free goes into the cache only while out > 0: out counts the pages the
 * thread was handed and has not freed since, so a thread keeps no more
 * than it took.  A thread that frees what others allocated (the
 * reclaimer) frees to the node list, as every free does in the kernel.
 */
struct epc_tcache {
	struct epc_spinlock lock; /* guards nr, pages[], node, rr, pinned_nid, out */
	unsigned int nr;
	unsigned int out; /* pages handed to this thread, not yet freed by it */
	unsigned int node; /* node index of the cached pages */
	unsigned int rr; /* next node of SGX_EPC_NUMA_INTERLEAVE */
	int pinned_nid; /* -1, or the node id the thread chose */
	_Atomic unsigned int nr_cached; /* nr, for the summing side */
	_Atomic unsigned int cached_node; /* node, for the summing side */
	_Atomic uint64_t nr_allocs; /* pages this thread was handed, for stats */
	uint64_t swept_allocs; /* nr_allocs at the last idle sweep; tcache_lock */
	_Atomic(struct sgx_epc *) epc; /* NULL once the page cache is gone */
	atomic_bool exited; /* the thread is gone; set under lock */
	atomic_int refs; /* thread + registry */
	struct list_head registry_link; /* in epc->tcaches, epc->tcache_lock */
	struct epc_tcache *thread_next; /* the owner thread's list */
	struct sgx_epc_page *pages[]; /* a stack; epc->tcache_cap entries */
};

struct sgx_epc {
	struct sgx_cpu *cpu;
	struct sgx_epc_config cfg;
	unsigned int nr_sections;
	struct epc_section sections[SGX_MAX_EPC_SECTIONS];
	unsigned int nr_nodes;
	struct epc_node *nodes; /* ascending nid */
	uint64_t nr_total;
	unsigned int tcache_cap; /* pages a thread cache holds at most */
	unsigned int tcache_batch; /* pages moved per refill or drain */

	/* Host CPU -> NUMA node id, read from /sys at creation. */
	int16_t *host_cpu_nid;
	unsigned int nr_host_cpus;

	pthread_mutex_t tcache_lock; /* guards tcaches, the counters' writes below */
	struct list_head tcaches; /* struct epc_tcache.registry_link */
	/* Statistics (sgx_epc_stats()).  Each is written under tcache_lock or
	 * (allocs_untracked) atomically, so the fast path touches none. */
	_Atomic uint64_t nr_allocs_retired; /* of caches the registry dropped */
	_Atomic uint64_t nr_steals;
	_Atomic uint64_t nr_global_locks;
	_Atomic uint64_t nr_wake_locks;
	_Atomic uint64_t nr_allocs_untracked; /* by threads without a cache */
	/* CLOCK_MONOTONIC_COARSE ns of the last idle sweep; written under
	 * tcache_lock, read without it to skip the lock between sweeps. */
	_Atomic uint64_t last_sweep_ns;
	/* Set when an allocation woke the reclaimer, cleared when the
	 * reclaimer's stop test finds enough free: allocations in between
	 * need not take the reclaim lock to wake it again. */
	atomic_bool reclaimer_woken;

	pthread_rwlock_t reclaim_lock; /* guards reclaim_ops, reclaim_ctx */
	const struct sgx_epc_reclaim_ops *reclaim_ops;
	void *reclaim_ctx;
};

/* Counts a take of the registry lock by an allocation or a free: an atomic
 * add, made only on paths that take the lock anyway. */
static void epc_count_global_lock(struct sgx_epc *epc)
{
	atomic_fetch_add_explicit(&epc->nr_global_locks, 1, memory_order_relaxed);
}

/* ---- Thread caches: lookup, registration, thread exit -------------------- */

/*
 * The calling thread's caches.  These and the key are the only process-wide
 * state: a pthread key per page cache would race its destructor (which runs
 * at thread exit with no lock the page cache could hold) against
 * sgx_epc_destroy() deleting the key, so one key, created once, carries the
 * list of a thread's caches of every page cache.
 */
static __thread struct epc_tcache *tl_last; /* the cache used last */
static __thread struct epc_tcache *tl_caches; /* all of them */
static pthread_key_t tl_key;
static pthread_once_t tl_key_once = PTHREAD_ONCE_INIT;
static int tl_key_err;

static void tc_flush(struct sgx_epc *epc, struct epc_tcache *tc);

static void tc_put(struct epc_tcache *tc)
{
	if (atomic_fetch_sub_explicit(&tc->refs, 1, memory_order_acq_rel) == 1)
		free(tc);
}

/* pthread key destructor: the thread exits; give its pages back. */
static void tl_exit(void *head)
{
	struct epc_tcache *tc, *next;

	tl_last = NULL;
	tl_caches = NULL;
	for (tc = head; tc; tc = next) {
		struct sgx_epc *epc;

		next = tc->thread_next;
		epc_spin_lock(&tc->lock);
		epc = atomic_load_explicit(&tc->epc, memory_order_relaxed);
		if (epc) {
			tc_flush(epc, tc);
			atomic_store_explicit(&tc->exited, true, memory_order_release);
		}
		epc_spin_unlock(&tc->lock);
		tc_put(tc);
	}
}

static void tl_key_init(void)
{
	tl_key_err = pthread_key_create(&tl_key, tl_exit);
}

static int epc_host_nid(const struct sgx_epc *epc)
{
	int cpu = sched_getcpu();

	if (cpu < 0 || (unsigned int)cpu >= epc->nr_host_cpus)
		return 0;
	return epc->host_cpu_nid[cpu];
}

/* The node index to start from for node id nid: nid itself if it has EPC,
 * else the next id that has, wrapping (the kernel's next_node_in()). */
static unsigned int epc_node_index_from(const struct sgx_epc *epc, int nid)
{
	for (unsigned int i = 0; i < epc->nr_nodes; i++)
		if (epc->nodes[i].nid >= nid)
			return i;
	return 0;
}

/* The node a refill starts from.  Context: tc->lock held. */
static unsigned int tc_pick_node(struct sgx_epc *epc, struct epc_tcache *tc, bool advance)
{
	if (epc->cfg.numa_policy == SGX_EPC_NUMA_INTERLEAVE) {
		unsigned int i = tc->rr % epc->nr_nodes;

		if (advance)
			tc->rr = i + 1;
		return i;
	}
	return epc_node_index_from(epc, tc->pinned_nid >= 0 ? tc->pinned_nid :
							    epc_host_nid(epc));
}

static struct epc_tcache *tc_new(struct sgx_epc *epc)
{
	size_t size = sizeof(struct epc_tcache) + epc->tcache_cap * sizeof(struct sgx_epc_page *);
	struct epc_tcache *tc;

	/* Its own cache lines: the owner writes nr and the lock constantly. */
	size = (size + 63) & ~(size_t)63;
	tc = aligned_alloc(64, size);
	if (!tc)
		return NULL;
	memset(tc, 0, size);
	atomic_init(&tc->lock.locked, 0);
	tc->pinned_nid = -1;
	atomic_init(&tc->epc, epc);
	atomic_init(&tc->exited, false);
	atomic_init(&tc->refs, 2);
	atomic_init(&tc->nr_cached, 0);
	tc->node = tc_pick_node(epc, tc, false);
	atomic_init(&tc->cached_node, tc->node);
	list_init(&tc->registry_link);
	return tc;
}

/* Drops the registry's reference to caches whose thread has exited.
 * Context: epc->tcache_lock held. */
static void registry_reap(struct sgx_epc *epc)
{
	struct epc_tcache *tc, *tmp;

	list_for_each_entry_safe(tc, tmp, &epc->tcaches, registry_link) {
		if (atomic_load_explicit(&tc->exited, memory_order_acquire)) {
			counter_add(&epc->nr_allocs_retired, counter_read(&tc->nr_allocs));
			list_del(&tc->registry_link);
			tc_put(tc);
		}
	}
}

/* Finds or makes the calling thread's cache for epc; NULL if memory runs
 * out (callers then work on the node lists directly). */
static struct epc_tcache *tc_get_slow(struct sgx_epc *epc)
{
	struct epc_tcache **pp, *tc;

	if (pthread_once(&tl_key_once, tl_key_init) || tl_key_err)
		return NULL;

	/* Find this page cache's; forget those of destroyed page caches. */
	pp = &tl_caches;
	while ((tc = *pp)) {
		struct sgx_epc *owner = atomic_load_explicit(&tc->epc, memory_order_acquire);

		if (owner == epc) {
			tl_last = tc;
			return tc;
		}
		if (!owner) {
			*pp = tc->thread_next;
			if (tl_last == tc)
				tl_last = NULL;
			tc_put(tc);
			continue;
		}
		pp = &tc->thread_next;
	}

	tc = tc_new(epc);
	if (!tc)
		goto out_key;
	tc->thread_next = tl_caches;
	if (pthread_setspecific(tl_key, tc)) {
		free(tc);
		tc = NULL;
		goto out_key;
	}
	tl_caches = tc;

	pthread_mutex_lock(&epc->tcache_lock);
	epc_count_global_lock(epc);
	registry_reap(epc);
	list_add_tail(&tc->registry_link, &epc->tcaches);
	pthread_mutex_unlock(&epc->tcache_lock);
	tl_last = tc;
	return tc;

out_key:
	pthread_setspecific(tl_key, tl_caches);
	return NULL;
}

/* The calling thread's cache for epc if it has one; none is made (a
 * thread that never allocates has none, and frees to the node lists). */
static struct epc_tcache *tc_find(struct sgx_epc *epc)
{
	struct epc_tcache *tc = tl_last;

	if (likely(tc && atomic_load_explicit(&tc->epc, memory_order_relaxed) == epc))
		return tc;
	for (tc = tl_caches; tc; tc = tc->thread_next)
		if (atomic_load_explicit(&tc->epc, memory_order_acquire) == epc)
			return tc;
	return NULL;
}

static inline struct epc_tcache *tc_get(struct sgx_epc *epc)
{
	struct epc_tcache *tc = tl_last;

	if (likely(tc && atomic_load_explicit(&tc->epc, memory_order_relaxed) == epc))
		return tc;
	return tc_get_slow(epc);
}

/* ---- Moving pages between places ----------------------------------------- */

/* Context: the page's node->lock held. */
static void node_put_free(struct epc_node *node, struct sgx_epc_page *page)
{
	page->owner = NULL;
	page->flags = SGX_EPC_PAGE_IS_FREE;
	page->state = EPC_PAGE_NODE_FREE;
	list_add_tail(&page->list, &node->free_list);
	counter_add(&node->nr_free, 1);
}

/* Context: the page's node->lock held; the page is in no list. */
static void node_quarantine(struct epc_node *node, struct sgx_epc_page *page)
{
	page->owner = NULL;
	page->flags = SGX_EPC_PAGE_IS_FREE;
	page->state = EPC_PAGE_QUARANTINED;
	list_add(&page->list, &node->poison_list);
	counter_add(&node->nr_poisoned, 1);
}

/* Returns an in-use page to its node: free list, or poison list if it was
 * poisoned while in use.  Context: no node lock held (a tc->lock may be). */
static void node_free_page(struct sgx_epc *epc, struct sgx_epc_page *page)
{
	struct epc_node *node = &epc->nodes[page->node];

	pthread_mutex_lock(&node->lock);
	if (atomic_load_explicit(&page->poison, memory_order_relaxed)) {
		counter_add(&node->nr_poison_pending, -1);
		node_quarantine(node, page);
	} else {
		node_put_free(node, page);
	}
	pthread_mutex_unlock(&node->lock);
}

/* Takes one page off node index idx's free list, or NULL.
 * Context: no node lock held. */
static struct sgx_epc_page *node_take_one(struct sgx_epc *epc, unsigned int idx)
{
	struct epc_node *node = &epc->nodes[idx];
	struct sgx_epc_page *page = NULL;

	if (!counter_read(&node->nr_free))
		return NULL;
	pthread_mutex_lock(&node->lock);
	if (!list_empty(&node->free_list)) {
		page = list_first_entry(&node->free_list, struct sgx_epc_page, list);
		list_del(&page->list);
		counter_add(&node->nr_free, -1);
		page->state = EPC_PAGE_IN_USE;
		page->flags = 0;
	}
	pthread_mutex_unlock(&node->lock);
	return page;
}

static inline void tc_publish(struct epc_tcache *tc)
{
	atomic_store_explicit(&tc->nr_cached, tc->nr, memory_order_relaxed);
}

/* A page was handed to the cache's thread.  Context: tc->lock held. */
static inline void tc_account_alloc(struct epc_tcache *tc)
{
	counter_add(&tc->nr_allocs, 1);
	if (likely(tc->out != UINT32_MAX))
		tc->out++;
}

/* Context: tc->lock held, tc->nr > 0. */
static inline struct sgx_epc_page *tc_pop(struct epc_tcache *tc)
{
	struct sgx_epc_page *page;

	SGXEMU_ASSERT(epc_spin_is_locked(&tc->lock) && tc->nr > 0);
	page = tc->pages[--tc->nr];
	tc_publish(tc);
	SGXEMU_ASSERT(page->state == EPC_PAGE_CACHED);
	page->state = EPC_PAGE_IN_USE;
	page->flags = 0;
	return page;
}

/* Context: tc->lock held, tc->nr < cap, page of tc->node, not poisoned. */
static inline void tc_push(struct epc_tcache *tc, struct sgx_epc_page *page)
{
	SGXEMU_ASSERT(epc_spin_is_locked(&tc->lock) && page->node == tc->node);
	page->owner = NULL;
	page->flags = SGX_EPC_PAGE_IS_FREE;
	page->state = EPC_PAGE_CACHED;
	tc->pages[tc->nr++] = page;
	tc_publish(tc);
}

/* Refills an empty cache from node index idx; returns the pages moved.
 * Context: tc->lock held, tc->nr == 0. */
static unsigned int tc_refill(struct sgx_epc *epc, struct epc_tcache *tc, unsigned int idx)
{
	struct epc_node *node = &epc->nodes[idx];
	unsigned int n;
	uint64_t avail;

	SGXEMU_ASSERT(epc_spin_is_locked(&tc->lock) && tc->nr == 0);
	tc->node = idx;
	atomic_store_explicit(&tc->cached_node, idx, memory_order_relaxed);
	if (!counter_read(&node->nr_free))
		return 0;
	pthread_mutex_lock(&node->lock);
	avail = counter_read(&node->nr_free);
	n = avail > epc->tcache_batch ? epc->tcache_batch : (unsigned int)avail;
	/* The list's head goes on top of the stack, so pages leave in the
	 * order they were freed, as from the kernel's list. */
	for (unsigned int i = n; i-- > 0;) {
		struct sgx_epc_page *page;

		page = list_first_entry(&node->free_list, struct sgx_epc_page, list);
		list_del(&page->list);
		page->state = EPC_PAGE_CACHED;
		tc->pages[i] = page;
	}
	counter_add(&node->nr_free, -(int64_t)n);
	pthread_mutex_unlock(&node->lock);
	tc->nr = n;
	tc_publish(tc);
	return n;
}

/* Moves the top count pages of the cache back to its node.
 * Context: tc->lock held, count <= tc->nr. */
static void tc_drain(struct sgx_epc *epc, struct epc_tcache *tc, unsigned int count)
{
	struct epc_node *node = &epc->nodes[tc->node];

	SGXEMU_ASSERT(epc_spin_is_locked(&tc->lock) && count <= tc->nr);
	if (!count)
		return;
	pthread_mutex_lock(&node->lock);
	while (count--)
		node_put_free(node, tc->pages[--tc->nr]);
	pthread_mutex_unlock(&node->lock);
	tc_publish(tc);
}

/* Context: tc->lock held. */
static void tc_flush(struct sgx_epc *epc, struct epc_tcache *tc)
{
	tc_drain(epc, tc, tc->nr);
}

/* A thread cache is idle when its thread was handed no page between two
 * sweeps; sweeps are at least this far apart (the reclaimer thread's poll
 * period). */
#define EPC_IDLE_SWEEP_NS (50 * 1000 * 1000ULL)

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Gives the pages of idle threads' caches back to their nodes, so that
 * pages a thread no longer allocates from count as free and can be had
 * from the node lists (the kernel, with no thread caches, has no such
 * pages).  The reclaimer's stop test runs it (sgx_epc_should_reclaim()),
 * never an allocation.  Does nothing when the last sweep is less than
 * EPC_IDLE_SWEEP_NS old.  Context: no lock
 * held; takes the registry lock, then each cache's lock.
 */
static void epc_sweep_idle(struct sgx_epc *epc)
{
	struct epc_tcache *tc;
	uint64_t now = coarse_ns();

	if (now - atomic_load_explicit(&epc->last_sweep_ns, memory_order_relaxed) <
	    EPC_IDLE_SWEEP_NS)
		return;
	pthread_mutex_lock(&epc->tcache_lock);
	if (now - atomic_load_explicit(&epc->last_sweep_ns, memory_order_relaxed) <
	    EPC_IDLE_SWEEP_NS)
		goto out;
	atomic_store_explicit(&epc->last_sweep_ns, now, memory_order_relaxed);
	list_for_each_entry(tc, &epc->tcaches, registry_link) {
		uint64_t allocs = counter_read(&tc->nr_allocs);

		if (allocs == tc->swept_allocs &&
		    atomic_load_explicit(&tc->nr_cached, memory_order_relaxed)) {
			epc_spin_lock(&tc->lock);
			tc_flush(epc, tc);
			epc_spin_unlock(&tc->lock);
		}
		tc->swept_allocs = allocs;
	}
out:
	pthread_mutex_unlock(&epc->tcache_lock);
}

/* Takes one page out of another thread's cache: the last resort when every
 * node list is empty.  Context: no lock held. */
static struct sgx_epc_page *epc_steal(struct sgx_epc *epc, struct epc_tcache *self)
{
	struct sgx_epc_page *page = NULL;
	struct epc_tcache *tc;

	pthread_mutex_lock(&epc->tcache_lock);
	epc_count_global_lock(epc);
	list_for_each_entry(tc, &epc->tcaches, registry_link) {
		if (tc == self || !atomic_load_explicit(&tc->nr_cached, memory_order_relaxed))
			continue;
		epc_spin_lock(&tc->lock);
		if (tc->nr)
			page = tc_pop(tc);
		epc_spin_unlock(&tc->lock);
		if (page) {
			counter_add(&epc->nr_steals, 1);
			break;
		}
	}
	pthread_mutex_unlock(&epc->tcache_lock);
	return page;
}

/* ---- Stopping the world -------------------------------------------------- */

/* Takes every lock a page's move needs, so every page stays where it is.
 * For memory failure and invariant checks. */
static void epc_stop_world(struct sgx_epc *epc)
{
	struct epc_tcache *tc;

	pthread_mutex_lock(&epc->tcache_lock);
	list_for_each_entry(tc, &epc->tcaches, registry_link)
		epc_spin_lock(&tc->lock);
	for (unsigned int i = 0; i < epc->nr_nodes; i++)
		pthread_mutex_lock(&epc->nodes[i].lock);
}

static void epc_resume_world(struct sgx_epc *epc)
{
	struct epc_tcache *tc;

	for (unsigned int i = epc->nr_nodes; i-- > 0;)
		pthread_mutex_unlock(&epc->nodes[i].lock);
	list_for_each_entry(tc, &epc->tcaches, registry_link)
		epc_spin_unlock(&tc->lock);
	pthread_mutex_unlock(&epc->tcache_lock);
}

/* ---- Discovery and sanitization ----------------------------------------- */

void sgx_epc_config_default(struct sgx_epc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->low_watermark = SGX_NR_LOW_PAGES;
	cfg->high_watermark = SGX_NR_HIGH_PAGES;
	cfg->numa_policy = SGX_EPC_NUMA_LOCAL;
	cfg->tcache_pages = 0;
}

static int epc_config_check(const struct sgx_epc_config *cfg)
{
	if (cfg->low_watermark > cfg->high_watermark)
		return -EINVAL;
	if (cfg->numa_policy != SGX_EPC_NUMA_LOCAL &&
	    cfg->numa_policy != SGX_EPC_NUMA_INTERLEAVE)
		return -EINVAL;
	if (cfg->tcache_pages &&
	    (cfg->tcache_pages < 2 || cfg->tcache_pages > SGX_EPC_TCACHE_MAX))
		return -EINVAL;
	return 0;
}

/* Reads the sections from CPUID leaf 0x12 as sgx_page_cache_init() does. */
static int epc_discover(struct sgx_epc *epc)
{
	for (unsigned int i = 0; i < SGX_MAX_EPC_SECTIONS; i++) {
		struct epc_section *s = &epc->sections[epc->nr_sections];
		uint32_t r[4];
		uint64_t base, size;
		int nid;

		sgx_cpu_cpuid(epc->cpu, SGX_CPUID_EPC + i, r);
		/* Type 0 ends the list; an unknown type ends it too, as the
		 * kernel stops at the first section it does not understand. */
		if ((r[0] & SGX_CPUID_EPC_MASK) != SGX_CPUID_EPC_SECTION)
			break;
		base = ((uint64_t)(r[1] & 0xFFFFF) << 32) | (r[0] & 0xFFFFF000U);
		size = ((uint64_t)(r[3] & 0xFFFFF) << 32) | (r[2] & 0xFFFFF000U);
		if (!size || base + size < base)
			continue;
		/* No firmware node, or one out of range: node 0, as the kernel
		 * falls back after its FW_BUG message. */
		nid = sgx_cpu_section_node(epc->cpu, i);
		if (nid < 0 || nid >= SGX_EPC_MAX_NID)
			nid = 0;
		s->base = (void *)(uintptr_t)base;
		s->size = size;
		s->nr_pages = size >> SGX_PAGE_SHIFT;
		s->first = epc->nr_total;
		s->nid = nid;
		epc->nr_total += s->nr_pages;
		epc->nr_sections++;
	}
	return epc->nr_sections ? 0 : -ENODEV;
}

/* Builds the node table (ascending nid) and gives every page its struct. */
static int epc_build(struct sgx_epc *epc)
{
	int nids[SGX_MAX_EPC_SECTIONS];
	unsigned int n = 0, i, j;

	for (i = 0; i < epc->nr_sections; i++) {
		int nid = epc->sections[i].nid;

		for (j = 0; j < n && nids[j] != nid; j++)
			;
		if (j == n)
			nids[n++] = nid;
	}
	/* Insertion sort: at most eight. */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && nids[j - 1] > nids[j]; j--) {
			int t = nids[j];

			nids[j] = nids[j - 1];
			nids[j - 1] = t;
		}

	epc->nodes = aligned_alloc(64, n * sizeof(struct epc_node));
	if (!epc->nodes)
		return -ENOMEM;
	memset(epc->nodes, 0, n * sizeof(struct epc_node));
	epc->nr_nodes = n;
	for (i = 0; i < n; i++) {
		struct epc_node *node = &epc->nodes[i];

		pthread_mutex_init(&node->lock, NULL);
		list_init(&node->free_list);
		list_init(&node->poison_list);
		atomic_init(&node->nr_free, 0);
		atomic_init(&node->nr_poisoned, 0);
		atomic_init(&node->nr_poison_pending, 0);
		node->nid = nids[i];
	}

	for (i = 0; i < epc->nr_sections; i++) {
		struct epc_section *s = &epc->sections[i];

		for (j = 0; nids[j] != s->nid; j++)
			;
		s->node = j;
		epc->nodes[j].nr_total += s->nr_pages;
		s->pages = calloc(s->nr_pages, sizeof(struct sgx_epc_page));
		if (!s->pages)
			return -ENOMEM;
		for (uint64_t k = 0; k < s->nr_pages; k++) {
			struct sgx_epc_page *page = &s->pages[k];

			page->addr = (char *)s->base + (k << SGX_PAGE_SHIFT);
			page->section = i;
			page->node = j;
			page->state = EPC_PAGE_DIRTY;
			atomic_init(&page->poison, 0);
			list_init(&page->list);
		}
	}
	return 0;
}

/* Parses a cpulist ("0-3,8,10-11") and records nid for each CPU in it. */
static void epc_parse_cpulist(struct sgx_epc *epc, const char *s, int nid)
{
	while (*s) {
		char *end;
		unsigned long a, b;

		a = strtoul(s, &end, 10);
		if (end == s)
			return;
		b = a;
		s = end;
		if (*s == '-') {
			b = strtoul(s + 1, &end, 10);
			if (end == s + 1)
				return;
			s = end;
		}
		for (unsigned long c = a; c <= b && c < epc->nr_host_cpus; c++)
			epc->host_cpu_nid[c] = (int16_t)nid;
		if (*s != ',')
			return;
		s++;
	}
}

/* Reads which host node each CPU is on; without /sys every CPU is on 0. */
static int epc_read_host_nodes(struct sgx_epc *epc)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct dirent *de;
	DIR *dir;

	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > EPC_MAX_HOST_CPUS)
		ncpu = EPC_MAX_HOST_CPUS;
	epc->host_cpu_nid = calloc(ncpu, sizeof(*epc->host_cpu_nid));
	if (!epc->host_cpu_nid)
		return -ENOMEM;
	epc->nr_host_cpus = ncpu;

	dir = opendir("/sys/devices/system/node");
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		char path[300], buf[4096];
		unsigned int nid;
		char tail;
		FILE *f;
		size_t len;

		if (sscanf(de->d_name, "node%u%c", &nid, &tail) != 1 || nid >= SGX_EPC_MAX_NID)
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/node/%s/cpulist", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		epc_parse_cpulist(epc, buf, nid);
	}
	closedir(dir);
	return 0;
}

static bool eremove_machine_checked(int ret)
{
	return encls_faulted(ret) && encls_trapnr(ret) == X86_TRAP_MC;
}

/*
 * Every frame is dirty: EREMOVE it, as ksgxd does at boot.  The first pass
 * removes children (and SECS pages without any); SECS pages answer
 * SGX_CHILD_PRESENT until their children are gone, so a second pass
 * removes them.  What still fails then is quarantined if it cannot ever be
 * used: a frame that machine-checks (poisoned before the page cache
 * existed, or its SECS is), and a SECS that keeps such a child.  Anything
 * else (a thread inside an enclave) fails creation with -EBUSY.
 * Context: creation, no other user.
 */
static int epc_sanitize(struct sgx_epc *epc)
{
	struct list_head dirty, left;
	struct sgx_epc_page *page, *tmp;
	int ret = 0;

	list_init(&dirty);
	for (unsigned int i = 0; i < epc->nr_sections; i++)
		for (uint64_t k = 0; k < epc->sections[i].nr_pages; k++)
			list_add_tail(&epc->sections[i].pages[k].list, &dirty);

	for (int pass = 0; pass < 2 && !list_empty(&dirty); pass++) {
		list_init(&left);
		list_for_each_entry_safe(page, tmp, &dirty, list) {
			struct epc_node *node = &epc->nodes[page->node];
			int err = encls_eremove(epc->cpu, page->addr);

			list_del(&page->list);
			if (!err) {
				node_put_free(node, page);
			} else if (pass == 1 && (eremove_machine_checked(err) ||
						 err == SGX_CHILD_PRESENT)) {
				atomic_store_explicit(&page->poison, 1, memory_order_relaxed);
				node_quarantine(node, page);
			} else {
				list_add_tail(&page->list, &left);
				if (pass == 1)
					ret = -EBUSY;
			}
		}
		list_splice_tail_init(&left, &dirty);
	}
	/* Leave what is left out of every list; creation fails. */
	list_for_each_entry_safe(page, tmp, &dirty, list)
		list_del(&page->list);
	return ret;
}

/* ---- Creation and destruction -------------------------------------------- */

static void epc_free_memory(struct sgx_epc *epc)
{
	for (unsigned int i = 0; i < epc->nr_sections; i++)
		free(epc->sections[i].pages);
	if (epc->nodes)
		for (unsigned int i = 0; i < epc->nr_nodes; i++)
			pthread_mutex_destroy(&epc->nodes[i].lock);
	free(epc->nodes);
	free(epc->host_cpu_nid);
	free(epc);
}

int sgx_epc_create(struct sgx_cpu *cpu, const struct sgx_epc_config *cfg,
		   struct sgx_epc **out)
{
	struct sgx_epc *epc;
	int ret;

	if (!cpu || !out)
		return -EINVAL;
	*out = NULL;
	epc = calloc(1, sizeof(*epc));
	if (!epc)
		return -ENOMEM;
	epc->cpu = cpu;
	if (cfg)
		epc->cfg = *cfg;
	else
		sgx_epc_config_default(&epc->cfg);
	ret = epc_config_check(&epc->cfg);
	if (ret)
		goto err_memory;

	ret = epc_discover(epc);
	if (ret)
		goto err_memory;
	ret = epc_build(epc);
	if (ret)
		goto err_memory;
	ret = epc_read_host_nodes(epc);
	if (ret)
		goto err_memory;

	if (epc->cfg.tcache_pages) {
		epc->tcache_cap = epc->cfg.tcache_pages;
	} else {
		uint64_t cap = epc->nr_total / 64;

		epc->tcache_cap = cap < 2 ? 2 : cap > 64 ? 64 : (unsigned int)cap;
	}
	epc->tcache_batch = epc->tcache_cap / 2;

	ret = epc_sanitize(epc);
	if (ret)
		goto err_memory;

	pthread_mutex_init(&epc->tcache_lock, NULL);
	list_init(&epc->tcaches);
	atomic_init(&epc->nr_allocs_retired, 0);
	atomic_init(&epc->nr_steals, 0);
	atomic_init(&epc->nr_global_locks, 0);
	atomic_init(&epc->nr_wake_locks, 0);
	atomic_init(&epc->nr_allocs_untracked, 0);
	atomic_init(&epc->last_sweep_ns, 0);
	atomic_init(&epc->reclaimer_woken, false);
	ret = pthread_rwlock_init(&epc->reclaim_lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_tcache_lock;
	}
#ifdef SGXEMU_DEBUG
	SGXEMU_ASSERT(sgx_epc_check(epc, NULL, 0) == 0);
#endif
	*out = epc;
	return 0;

err_tcache_lock:
	pthread_mutex_destroy(&epc->tcache_lock);
err_memory:
	epc_free_memory(epc);
	return ret;
}

void sgx_epc_destroy(struct sgx_epc *epc)
{
	struct epc_tcache *tc, *tmp;

	if (!epc)
		return;
	pthread_mutex_lock(&epc->tcache_lock);
	list_for_each_entry_safe(tc, tmp, &epc->tcaches, registry_link) {
		epc_spin_lock(&tc->lock);
		if (!atomic_load_explicit(&tc->exited, memory_order_relaxed))
			tc_flush(epc, tc);
		atomic_store_explicit(&tc->epc, NULL, memory_order_release);
		epc_spin_unlock(&tc->lock);
		list_del(&tc->registry_link);
		tc_put(tc);
	}
	pthread_mutex_unlock(&epc->tcache_lock);

#ifdef SGXEMU_DEBUG
	SGXEMU_ASSERT(sgx_epc_check(epc, NULL, 0) == 0);
	for (unsigned int i = 0; i < epc->nr_nodes; i++) {
		struct epc_node *node = &epc->nodes[i];

		/* Every page is free or quarantined. */
		SGXEMU_ASSERT(counter_read(&node->nr_free) + counter_read(&node->nr_poisoned) ==
			   node->nr_total);
	}
#endif
	pthread_rwlock_destroy(&epc->reclaim_lock);
	pthread_mutex_destroy(&epc->tcache_lock);
	epc_free_memory(epc);
}

struct sgx_cpu *sgx_epc_cpu(const struct sgx_epc *epc)
{
	return epc->cpu;
}

void sgx_epc_set_reclaimer(struct sgx_epc *epc, const struct sgx_epc_reclaim_ops *ops,
			   void *ctx)
{
	pthread_rwlock_wrlock(&epc->reclaim_lock);
	epc->reclaim_ops = ops;
	epc->reclaim_ctx = ops ? ctx : NULL;
	pthread_rwlock_unlock(&epc->reclaim_lock);
}

/* ---- Stopping a wait for EPC --------------------------------------------- */

/* The calling thread's stop conditions (sgx_epc_thread_set_stop()); like
 * signal_pending(), a property of the thread, not of a page cache. */
static __thread struct sgx_epc_stop tl_stop;
static __thread bool tl_stop_set;

int sgx_epc_thread_set_stop(const struct sgx_epc_stop *stop)
{
	if (stop && !stop->flag && !stop->signals)
		return -EINVAL;
	tl_stop_set = stop != NULL;
	if (stop)
		tl_stop = *stop;
	return 0;
}

/*
 * The kernel's signal_pending(current) in sgx_alloc_epc_page(), and the
 * caller's flag: true when the flag is set, or when a signal is pending
 * for this thread (sigpending(): directed at it or at the process) that
 * the thread's own mask outside the call (stop.mask) does not block.
 * Costs a system call when signals are watched; only an allocation that
 * is about to reclaim asks.
 */
static bool epc_stop_requested(void)
{
	sigset_t pending;

	if (likely(!tl_stop_set))
		return false;
	if (tl_stop.flag && atomic_load_explicit(tl_stop.flag, memory_order_acquire))
		return true;
	if (!tl_stop.signals || sigpending(&pending))
		return false;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&pending, sig) == 1 && sigismember(&tl_stop.mask, sig) != 1)
			return true;
	return false;
}

/* ---- Allocation and freeing ---------------------------------------------- */

static inline bool epc_page_ok(const struct sgx_epc *epc, const struct sgx_epc_page *page)
{
	uintptr_t p = (uintptr_t)page;

	for (unsigned int i = 0; i < epc->nr_sections; i++) {
		const struct epc_section *s = &epc->sections[i];
		uintptr_t lo = (uintptr_t)s->pages;

		if (p >= lo && p < lo + s->nr_pages * sizeof(*page))
			return (p - lo) % sizeof(*page) == 0;
	}
	return false;
}

/* Free pages on the node lists: a cheap lower bound of the free count that
 * takes no lock (the pages in thread caches are left out). */
static uint64_t epc_nr_free_lists(struct sgx_epc *epc)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < epc->nr_nodes; i++)
		n += counter_read(&epc->nodes[i].nr_free);
	return n;
}

uint64_t sgx_epc_nr_free_listed(struct sgx_epc *epc)
{
	return epc_nr_free_lists(epc);
}

/*
 * Wakes the reclaimer if the lists run low and it has work: the kernel's
 * sgx_should_reclaim(SGX_NR_LOW_PAGES) and wake_up() at the end of
 * sgx_alloc_epc_page().  The count is the node lists', the one the
 * reclaimer's stop test reads too (sgx_epc_should_reclaim()), so the
 * reclaimer never stops short of what woke it.  Once woken it stays so
 * until its stop test finds enough free, and allocations meanwhile skip
 * the reclaim lock (a wake-up lost in the race is caught by the next
 * allocation that gets here after the stop, or by the reclaimer's poll).
 */
static void epc_wake_if_low(struct sgx_epc *epc)
{
	const struct sgx_epc_reclaim_ops *ops;

	if (epc_nr_free_lists(epc) >= epc->cfg.low_watermark ||
	    atomic_load_explicit(&epc->reclaimer_woken, memory_order_relaxed))
		return;
	atomic_fetch_add_explicit(&epc->nr_wake_locks, 1, memory_order_relaxed);
	pthread_rwlock_rdlock(&epc->reclaim_lock);
	ops = epc->reclaim_ops;
	if (ops && ops->wake && ops->can_reclaim(epc->reclaim_ctx)) {
		atomic_store_explicit(&epc->reclaimer_woken, true, memory_order_relaxed);
		ops->wake(epc->reclaim_ctx);
	}
	pthread_rwlock_unlock(&epc->reclaim_lock);
}

/* A page from anywhere: the thread's cache refilled from its local node,
 * then the other nodes round-robin, then other threads' caches. */
static struct sgx_epc_page *epc_take_slow(struct sgx_epc *epc, struct epc_tcache *tc)
{
	struct sgx_epc_page *page = NULL;
	unsigned int start, i;

	if (tc) {
		epc_spin_lock(&tc->lock);
		if (!tc->nr) {
			start = tc_pick_node(epc, tc, true);
			tc_refill(epc, tc, start);
		} else {
			start = tc->node;
		}
		if (tc->nr)
			page = tc_pop(tc);
		/* The other nodes give one page at a time, so the cache keeps
		 * to the local node and takes it up again once it has pages. */
		for (i = 1; !page && i < epc->nr_nodes; i++)
			page = node_take_one(epc, (start + i) % epc->nr_nodes);
		epc_spin_unlock(&tc->lock);
	} else {
		start = epc_node_index_from(epc, epc_host_nid(epc));
		for (i = 0; !page && i < epc->nr_nodes; i++)
			page = node_take_one(epc, (start + i) % epc->nr_nodes);
	}
	return page;
}

/*
 * The kernel's sgx_alloc_epc_page() loop, after the cache came up empty,
 * with one step the kernel does not need: the pages other threads hold in
 * their caches.  Those are stolen only when reclaim cannot give a page
 * (nothing to reclaim, or the caller may not), much as Linux's page
 * allocator drains the per-CPU lists only when reclaim failed: a steal
 * takes the registry lock and yields one page, and a thread still
 * allocating would soon miss it.  While the caller reclaims, the caches of
 * threads that stopped allocating come back by the reclaimer's idle
 * sweep.  Kept out of line so the fast path saves no registers for it.
 */
static __attribute__((noinline)) int epc_alloc_slow(struct sgx_epc *epc, struct epc_tcache *tc, void *owner,
			  bool reclaim, struct sgx_epc_page **out)
{
	const struct sgx_epc_reclaim_ops *ops;
	struct sgx_epc_page *page;
	int ret;

	for (;;) {
		page = epc_take_slow(epc, tc);
		if (page)
			break;

		/* No page on any list: the reclaim lock from here on is
		 * direct reclaim's, which the core counts (direct_reclaims),
		 * not a take of the allocation path's. */
		pthread_rwlock_rdlock(&epc->reclaim_lock);
		ops = epc->reclaim_ops;
		if (!ops || !ops->can_reclaim(epc->reclaim_ctx)) {
			pthread_rwlock_unlock(&epc->reclaim_lock);
			page = epc_steal(epc, tc);
			if (page)
				break;
			return -ENOMEM;
		}
		if (!reclaim) {
			pthread_rwlock_unlock(&epc->reclaim_lock);
			page = epc_steal(epc, tc);
			if (page)
				break;
			ret = -EBUSY;
			goto out_wake;
		}
		if (epc_stop_requested()) {
			pthread_rwlock_unlock(&epc->reclaim_lock);
			ret = -EINTR;
			goto out_wake;
		}
		ret = ops->reclaim_direct(epc->reclaim_ctx);
		pthread_rwlock_unlock(&epc->reclaim_lock);
		if (ret < 0)
			goto out_wake;
		if (ret == 0)
			sched_yield();
	}
	if (tc) {
		epc_spin_lock(&tc->lock);
		tc_account_alloc(tc);
		epc_spin_unlock(&tc->lock);
	} else {
		atomic_fetch_add_explicit(&epc->nr_allocs_untracked, 1, memory_order_relaxed);
	}
	page->owner = owner;
	*out = page;
	ret = 0;
out_wake:
	epc_wake_if_low(epc);
	return ret;
}

int sgx_alloc_epc_page(struct sgx_epc *epc, void *owner, bool reclaim,
		       struct sgx_epc_page **out)
{
	struct epc_tcache *tc;

	if (unlikely(!epc || !out))
		return -EINVAL;
	tc = tc_get(epc);
	if (likely(tc)) {
		epc_spin_lock(&tc->lock);
		if (likely(tc->nr)) {
			struct sgx_epc_page *page = tc_pop(tc);

			tc_account_alloc(tc);
			epc_spin_unlock(&tc->lock);
			page->owner = owner;
			*out = page;
			return 0;
		}
		epc_spin_unlock(&tc->lock);
	}
	return epc_alloc_slow(epc, tc, owner, reclaim, out);
}

void sgx_free_epc_page(struct sgx_epc *epc, struct sgx_epc_page *page)
{
	struct epc_tcache *tc;

	if (unlikely(!epc || !epc_page_ok(epc, page))) {
		SGXEMU_ASSERT(!"page of another page cache");
		return;
	}
	SGXEMU_ASSERT(page->state == EPC_PAGE_IN_USE);
	tc = tc_find(epc);
	if (!tc) {
		/* A thread that never allocated: the kernel's
		 * sgx_free_epc_page(), to the node list. */
		node_free_page(epc, page);
		return;
	}
	epc_spin_lock(&tc->lock);
	if (likely(tc->out && page->node == tc->node &&
		   !atomic_load_explicit(&page->poison, memory_order_relaxed))) {
		tc->out--;
		/* A full cache gives a batch back to the node first. */
		if (unlikely(tc->nr == epc->tcache_cap))
			tc_drain(epc, tc, epc->tcache_batch);
		tc_push(tc, page);
	} else {
		/* More frees than allocations (the reclaimer's frees), another
		 * node's page, or a poisoned one: straight to its node. */
		if (tc->out)
			tc->out--;
		node_free_page(epc, page);
	}
	epc_spin_unlock(&tc->lock);
}

/* ---- Counting ------------------------------------------------------------ */

int sgx_epc_stats(struct sgx_epc *epc, struct sgx_epc_stats *st)
{
	struct epc_tcache *tc;

	if (!epc || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&epc->tcache_lock);
	st->allocs = counter_read(&epc->nr_allocs_retired) +
		     atomic_load_explicit(&epc->nr_allocs_untracked, memory_order_relaxed);
	list_for_each_entry(tc, &epc->tcaches, registry_link) {
		st->allocs += counter_read(&tc->nr_allocs);
		st->cached += atomic_load_explicit(&tc->nr_cached, memory_order_relaxed);
	}
	st->steals = counter_read(&epc->nr_steals);
	pthread_mutex_unlock(&epc->tcache_lock);
	st->global_locks = atomic_load_explicit(&epc->nr_global_locks, memory_order_relaxed);
	st->wake_locks = atomic_load_explicit(&epc->nr_wake_locks, memory_order_relaxed);
	st->listed = epc_nr_free_lists(epc);
	return 0;
}

uint64_t sgx_epc_nr_free(struct sgx_epc *epc)
{
	struct epc_tcache *tc;
	uint64_t n;

	pthread_mutex_lock(&epc->tcache_lock);
	n = epc_nr_free_lists(epc);
	list_for_each_entry(tc, &epc->tcaches, registry_link)
		n += atomic_load_explicit(&tc->nr_cached, memory_order_relaxed);
	pthread_mutex_unlock(&epc->tcache_lock);
	return n;
}

uint64_t sgx_epc_nr_total(const struct sgx_epc *epc)
{
	return epc->nr_total;
}

uint64_t sgx_epc_nr_poisoned(struct sgx_epc *epc)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < epc->nr_nodes; i++)
		n += counter_read(&epc->nodes[i].nr_poisoned);
	return n;
}

bool sgx_epc_should_reclaim(struct sgx_epc *epc, uint64_t watermark)
{
	const struct sgx_epc_reclaim_ops *ops;
	bool ret = false;

	/* The kernel's sgx_should_reclaim(), over the count the wake-up test
	 * reads (epc_wake_if_low()): the node lists.  Pages in the caches of
	 * threads that stopped allocating go back to the lists first; those
	 * of threads still allocating are theirs. */
	if (epc_nr_free_lists(epc) < watermark)
		epc_sweep_idle(epc);
	if (epc_nr_free_lists(epc) >= watermark) {
		atomic_store_explicit(&epc->reclaimer_woken, false, memory_order_relaxed);
		return false;
	}
	pthread_rwlock_rdlock(&epc->reclaim_lock);
	ops = epc->reclaim_ops;
	if (ops)
		ret = ops->can_reclaim(epc->reclaim_ctx);
	pthread_rwlock_unlock(&epc->reclaim_lock);
	if (!ret)
		atomic_store_explicit(&epc->reclaimer_woken, false, memory_order_relaxed);
	return ret;
}

uint64_t sgx_epc_low_watermark(const struct sgx_epc *epc)
{
	return epc->cfg.low_watermark;
}

uint64_t sgx_epc_high_watermark(const struct sgx_epc *epc)
{
	return epc->cfg.high_watermark;
}

unsigned int sgx_epc_nr_nodes(const struct sgx_epc *epc)
{
	return epc->nr_nodes;
}

int sgx_epc_node_stats(struct sgx_epc *epc, unsigned int index, struct sgx_epc_node_stats *st)
{
	struct epc_node *node;
	struct epc_tcache *tc;
	uint64_t used;

	if (!epc || !st || index >= epc->nr_nodes)
		return -EINVAL;
	node = &epc->nodes[index];
	memset(st, 0, sizeof(*st));
	st->nid = node->nid;
	st->total = node->nr_total;
	pthread_mutex_lock(&epc->tcache_lock);
	list_for_each_entry(tc, &epc->tcaches, registry_link)
		if (atomic_load_explicit(&tc->cached_node, memory_order_relaxed) == index)
			st->cached += atomic_load_explicit(&tc->nr_cached, memory_order_relaxed);
	st->free = counter_read(&node->nr_free) + st->cached;
	pthread_mutex_unlock(&epc->tcache_lock);
	st->poisoned = counter_read(&node->nr_poisoned);
	st->poison_pending = counter_read(&node->nr_poison_pending);
	used = st->free + st->poisoned;
	st->in_use = used < st->total ? st->total - used : 0;
	return 0;
}

unsigned int sgx_epc_nr_sections(const struct sgx_epc *epc)
{
	return epc->nr_sections;
}

int sgx_epc_section_info(const struct sgx_epc *epc, unsigned int index,
			 struct sgx_epc_section_info *info)
{
	const struct epc_section *s;

	if (!epc || !info || index >= epc->nr_sections)
		return -EINVAL;
	s = &epc->sections[index];
	info->base = s->base;
	info->size = s->size;
	info->nid = s->nid;
	info->node = s->node;
	return 0;
}

struct sgx_epc_page *sgx_epc_page_from_addr(struct sgx_epc *epc, const void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	if (!epc)
		return NULL;
	for (unsigned int i = 0; i < epc->nr_sections; i++) {
		const struct epc_section *s = &epc->sections[i];
		uintptr_t base = (uintptr_t)s->base;

		if (a >= base && a - base < s->size)
			return &s->pages[(a - base) >> SGX_PAGE_SHIFT];
	}
	return NULL;
}

/* ---- NUMA pinning -------------------------------------------------------- */

int sgx_epc_thread_set_node(struct sgx_epc *epc, int nid)
{
	struct epc_tcache *tc;

	if (!epc || nid < -1 || nid >= SGX_EPC_MAX_NID)
		return -EINVAL;
	tc = tc_get(epc);
	if (!tc)
		return -ENOMEM;
	epc_spin_lock(&tc->lock);
	tc->pinned_nid = nid;
	if (tc_pick_node(epc, tc, false) != tc->node) {
		tc_flush(epc, tc);
		tc->node = tc_pick_node(epc, tc, false);
		atomic_store_explicit(&tc->cached_node, tc->node, memory_order_relaxed);
	}
	epc_spin_unlock(&tc->lock);
	return 0;
}

unsigned int sgx_epc_thread_node(struct sgx_epc *epc)
{
	struct epc_tcache *tc = tc_get(epc);
	unsigned int idx;

	if (!tc)
		return epc_node_index_from(epc, epc_host_nid(epc));
	epc_spin_lock(&tc->lock);
	idx = tc_pick_node(epc, tc, false);
	epc_spin_unlock(&tc->lock);
	return idx;
}

/* ---- Memory failure ------------------------------------------------------ */

/* Removes a cached page from whichever thread cache holds it.
 * Context: the world is stopped. */
static bool epc_uncache(struct sgx_epc *epc, struct sgx_epc_page *page)
{
	struct epc_tcache *tc;

	list_for_each_entry(tc, &epc->tcaches, registry_link) {
		for (unsigned int i = 0; i < tc->nr; i++) {
			if (tc->pages[i] != page)
				continue;
			tc->pages[i] = tc->pages[--tc->nr];
			tc_publish(tc);
			return true;
		}
	}
	return false;
}

int sgx_epc_poison(struct sgx_epc *epc, struct sgx_epc_page *page)
{
	struct epc_node *node;
	int ret;

	if (!epc || !epc_page_ok(epc, page))
		return -EINVAL;
	ret = sgx_cpu_poison(epc->cpu, page->addr);
	if (ret)
		return ret < 0 ? ret : -EIO;

	node = &epc->nodes[page->node];
	epc_stop_world(epc);
	if (!atomic_load_explicit(&page->poison, memory_order_relaxed)) {
		atomic_store_explicit(&page->poison, 1, memory_order_release);
		switch (page->state) {
		case EPC_PAGE_NODE_FREE:
			list_del(&page->list);
			counter_add(&node->nr_free, -1);
			node_quarantine(node, page);
			break;
		case EPC_PAGE_CACHED:
			if (epc_uncache(epc, page))
				node_quarantine(node, page);
			else
				SGXEMU_ASSERT(!"cached page in no thread cache");
			break;
		case EPC_PAGE_IN_USE:
			/* sgx_free_epc_page() quarantines it. */
			counter_add(&node->nr_poison_pending, 1);
			break;
		default:
			/* Left unsanitized at creation: never handed out. */
			break;
		}
	}
	epc_resume_world(epc);
	return 0;
}

/* ---- Invariants ---------------------------------------------------------- */

struct epc_census {
	uint64_t free_list, cached, poisoned, in_use, pending;
};

#define CHECK_FAIL(...)                                                        \
	do {                                                                   \
		if (why)                                                       \
			snprintf(why, why_len, __VA_ARGS__);                   \
		return -EUCLEAN;                                               \
	} while (0)

static uint64_t page_index(const struct sgx_epc *epc, const struct sgx_epc_page *page)
{
	const struct epc_section *s = &epc->sections[page->section];

	return s->first + (uint64_t)(page - s->pages);
}

/* Walks one node list, marking each page seen.  Context: world stopped. */
static int check_list(struct sgx_epc *epc, unsigned int idx, struct list_head *head,
		      uint8_t want, uint8_t *seen, uint64_t *count, char *why, size_t why_len)
{
	struct list_head *pos;
	uint64_t n = 0;

	list_for_each(pos, head) {
		struct sgx_epc_page *page = list_entry(pos, struct sgx_epc_page, list);
		uint64_t i;

		if (n++ > epc->nr_total)
			CHECK_FAIL("node %u: list longer than the EPC (a cycle)", idx);
		if (!epc_page_ok(epc, page))
			CHECK_FAIL("node %u: foreign page %p on a list", idx, (void *)page);
		i = page_index(epc, page);
		if (page->node != idx)
			CHECK_FAIL("page %" PRIu64 " of node %u on node %u's list", i,
				   page->node, idx);
		if (page->state != want)
			CHECK_FAIL("page %" PRIu64 " in state %u on a list of state %u", i,
				   page->state, want);
		if (!(page->flags & SGX_EPC_PAGE_IS_FREE))
			CHECK_FAIL("page %" PRIu64 " on a list without IS_FREE", i);
		if ((want == EPC_PAGE_QUARANTINED) != sgx_epc_page_poisoned(page))
			CHECK_FAIL("page %" PRIu64 ": poison %d on the %s list", i,
				   sgx_epc_page_poisoned(page),
				   want == EPC_PAGE_QUARANTINED ? "poison" : "free");
		if (seen[i]++)
			CHECK_FAIL("page %" PRIu64 " in two places", i);
	}
	*count = n;
	return 0;
}

static int check_locked(struct sgx_epc *epc, uint8_t *seen, struct epc_census *c,
			char *why, size_t why_len)
{
	struct epc_tcache *tc;
	uint64_t all_free = 0, all_used = 0, all_poison = 0;
	unsigned int idx;
	int ret;

	for (idx = 0; idx < epc->nr_nodes; idx++) {
		struct epc_node *node = &epc->nodes[idx];

		ret = check_list(epc, idx, &node->free_list, EPC_PAGE_NODE_FREE, seen,
				 &c[idx].free_list, why, why_len);
		if (ret)
			return ret;
		if (c[idx].free_list != counter_read(&node->nr_free))
			CHECK_FAIL("node %u: %" PRIu64 " pages on the free list, nr_free %" PRIu64,
				   idx, c[idx].free_list, counter_read(&node->nr_free));
		ret = check_list(epc, idx, &node->poison_list, EPC_PAGE_QUARANTINED, seen,
				 &c[idx].poisoned, why, why_len);
		if (ret)
			return ret;
		if (c[idx].poisoned != counter_read(&node->nr_poisoned))
			CHECK_FAIL("node %u: %" PRIu64 " pages on the poison list, nr_poisoned %" PRIu64,
				   idx, c[idx].poisoned, counter_read(&node->nr_poisoned));
	}

	list_for_each_entry(tc, &epc->tcaches, registry_link) {
		unsigned int published = atomic_load_explicit(&tc->nr_cached, memory_order_relaxed);

		if (tc->nr > epc->tcache_cap)
			CHECK_FAIL("a thread cache holds %u pages, more than %u", tc->nr,
				   epc->tcache_cap);
		if (tc->nr != published)
			CHECK_FAIL("a thread cache holds %u pages but counts %u", tc->nr, published);
		if (tc->nr && tc->node != atomic_load_explicit(&tc->cached_node,
							       memory_order_relaxed))
			CHECK_FAIL("a thread cache of node %u counts for another", tc->node);
		if (tc->nr && atomic_load_explicit(&tc->exited, memory_order_relaxed))
			CHECK_FAIL("an exited thread's cache holds %u pages", tc->nr);
		for (unsigned int i = 0; i < tc->nr; i++) {
			struct sgx_epc_page *page = tc->pages[i];
			uint64_t pi;

			if (!epc_page_ok(epc, page))
				CHECK_FAIL("foreign page %p in a thread cache", (void *)page);
			pi = page_index(epc, page);
			if (page->state != EPC_PAGE_CACHED || page->node != tc->node)
				CHECK_FAIL("page %" PRIu64 " (state %u, node %u) in a cache of node %u",
					   pi, page->state, page->node, tc->node);
			if (sgx_epc_page_poisoned(page))
				CHECK_FAIL("poisoned page %" PRIu64 " in a thread cache", pi);
			if (seen[pi]++)
				CHECK_FAIL("page %" PRIu64 " in two places", pi);
			c[tc->node].cached++;
		}
	}

	for (unsigned int s = 0; s < epc->nr_sections; s++) {
		struct epc_section *sec = &epc->sections[s];

		for (uint64_t k = 0; k < sec->nr_pages; k++) {
			struct sgx_epc_page *page = &sec->pages[k];
			uint64_t pi = sec->first + k;

			if (page->state == EPC_PAGE_IN_USE) {
				if (seen[pi])
					CHECK_FAIL("page %" PRIu64 " in use and free", pi);
				c[page->node].in_use++;
				c[page->node].pending += sgx_epc_page_poisoned(page);
			} else if (!seen[pi] && page->state != EPC_PAGE_DIRTY) {
				CHECK_FAIL("page %" PRIu64 " in state %u but in no list", pi,
					   page->state);
			}
		}
	}

	for (idx = 0; idx < epc->nr_nodes; idx++) {
		struct epc_node *node = &epc->nodes[idx];
		uint64_t free = counter_read(&node->nr_free) + c[idx].cached;
		uint64_t poisoned = counter_read(&node->nr_poisoned);

		if (c[idx].pending != counter_read(&node->nr_poison_pending))
			CHECK_FAIL("node %u: %" PRIu64 " poisoned pages in use, counted %" PRIu64,
				   idx, c[idx].pending, counter_read(&node->nr_poison_pending));
		if (free + c[idx].in_use + poisoned != node->nr_total)
			CHECK_FAIL("node %u: free %" PRIu64 " + in use %" PRIu64
				   " + poisoned %" PRIu64 " != total %" PRIu64,
				   idx, free, c[idx].in_use, poisoned, node->nr_total);
		all_free += free;
		all_used += c[idx].in_use;
		all_poison += poisoned;
	}
	if (all_free + all_used + all_poison != epc->nr_total)
		CHECK_FAIL("free %" PRIu64 " + in use %" PRIu64 " + poisoned %" PRIu64
			   " != total %" PRIu64,
			   all_free, all_used, all_poison, epc->nr_total);
	return 0;
}

int sgx_epc_check(struct sgx_epc *epc, char *why, size_t why_len)
{
	struct epc_census c[SGX_MAX_EPC_SECTIONS];
	uint8_t *seen;
	int ret;

	if (!epc)
		return -EINVAL;
	seen = calloc(epc->nr_total, 1);
	if (!seen)
		return -ENOMEM;
	memset(c, 0, sizeof(c));
	epc_stop_world(epc);
	ret = check_locked(epc, seen, c, why, why_len);
	epc_resume_world(epc);
	free(seen);
	if (!ret && why && why_len)
		why[0] = '\0';
	return ret;
}
