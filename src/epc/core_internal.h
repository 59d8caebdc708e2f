/*
 * core_internal.h: the SGX core's private structures, shared by core.c,
 * encl.c, va.c, backing.c and reclaim.c.  Nothing outside src/epc includes
 * this.
 *
 * Locks, in the order they nest (a lock is never taken while a later one
 * is held):
 *
 *   core->encls_lock   the registry of enclaves (sgx_core_check(), stats)
 *   encl->lock         everything an enclave owns: its page tree, each
 *                      page's state, its VA pages and their slots, its PCMD
 *                      counts and charges, its SECS; held across the ENCLS
 *                      leaves on its pages
 *   core->lru_lock     the LRU and the RECLAIMER_TRACKED bit of every page
 *                      on it or isolated from it
 *   core->ksgxd_lock   the reclaimer thread's wake-up and the count of
 *                      batches in flight
 *   core->leak_lock    frames that could not be EREMOVEd
 *   encl->views_lock   the enclave's application views (view.c): the
 *                      address spaces that map it.  Taken alone or inside
 *                      encl->lock; nothing of ours is taken under it (a
 *                      zap makes only madvise() calls while holding it)
 *   encl->hooks_lock   the owner's hooks (ops, ops_ctx): read around each
 *                      call of one, written by sgx_encl_release().  Taken
 *                      alone (zap) or inside encl->lock (kick); nothing of
 *                      ours is taken under it (hooks may not call back)
 *
 * Two enclave locks are never held at once.  No enclave lock is held while
 * an EPC page is allocated, with reclaim or without: the page cache holds
 * its reclaim lock (read) around its reclaim callbacks, which take
 * enclave locks, and takes it again in every allocation's slow path.  The
 * page cache's other locks are taken inside any of ours (frees, counts).
 * The callbacks are entered with no lock of ours held.
 *
 * An enclave lives while its refcount is above zero: its users (the owner
 * and its views, counted in encl->users) hold one reference together, and
 * a reclaimer one for every page it has taken off the LRU (sgx_encl_evict()
 * too).  Whoever drops the last one tears the enclave down.  A reclaimer
 * takes a reference only under lru_lock and only from a page on the LRU,
 * and the teardown takes every page off the LRU before it frees the
 * enclave.
 */
#ifndef SGXEMU_EPC_CORE_INTERNAL_H
#define SGXEMU_EPC_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/debug.h"
#include "epc/encls.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"
#include "sgxemu/epc.h"
#include "sgxemu/list.h"


/*
 * The enclave and LRU locks are held for a few microseconds (one leaf and
 * its bookkeeping) and are contended by the owner's faults and the
 * reclaimer: an adaptive mutex spins a little before it sleeps, which
 * saves a futex wake-up (tens of microseconds in a VM) per contended
 * acquisition.
 */
static inline void core_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
}

/*
 * Takes an enclave's lock, spinning a while first.  The lock is held for a
 * page's bookkeeping or its ELDU (a few microseconds) and wanted by the
 * owner's faults and the reclaimer at once: a waiter that sleeps makes the
 * holder's unlock a futex wake-up, a cross-CPU interrupt that costs more
 * than the section it waited for (on this VM kind, half of the time of a
 * streaming reclaim).  glibc's adaptive mutex spins about 100 tries before
 * it sleeps, too few for these sections.
 */
#define CORE_LOCK_SPINS 1000
static inline void core_lock(pthread_mutex_t *m)
{
	for (unsigned int i = 0; i < CORE_LOCK_SPINS; i++) {
		if (pthread_mutex_trylock(m) == 0)
			return;
		__builtin_ia32_pause();
	}
	pthread_mutex_lock(m);
}

/* Counters of struct sgx_core_stats, bumped with relaxed atomics: they are
 * off the allocator's fast path. */
struct core_counters {
	_Atomic uint64_t pages_written_back;
	_Atomic uint64_t secs_written_back;
	_Atomic uint64_t pages_loaded;
	_Atomic uint64_t secs_loaded;
	_Atomic uint64_t load_failures;
	_Atomic uint64_t faults; /* sgx_encl_fault() calls that made the page usable */
	_Atomic uint64_t faults_loaded; /* of those, the ones that ran ELDU */
	_Atomic uint64_t ewb_retry_etrack;
	_Atomic uint64_t ewb_retry_ipi;
	_Atomic uint64_t ewb_gave_up;
	_Atomic uint64_t ewb_etracks;
	_Atomic uint64_t ewb_kicks;
	_Atomic uint64_t ewb_ipi_waits;
	_Atomic uint64_t ewb_batch_waits;
	_Atomic uint64_t ewb_failures;
	_Atomic uint64_t conflict_retries; /* encls_retry() */
	_Atomic uint64_t age_hits;
	_Atomic uint64_t age_misses;
	_Atomic uint64_t backing_limit_hits;
	_Atomic uint64_t reclaim_batches;
	_Atomic uint64_t direct_reclaims;
	_Atomic uint64_t reclaimer_wakeups;
	_Atomic uint64_t poison_errors;
	_Atomic uint64_t leak_retries; /* EREMOVE of a kept frame again */
	_Atomic uint64_t leak_recovered; /* kept frames freed after all */
};

#define core_count(core, field) \
	atomic_fetch_add_explicit(&(core)->counters.field, 1, memory_order_relaxed)

struct sgx_core {
	struct sgx_cpu *cpu;
	struct sgx_epc *epc;
	unsigned int batch;
	unsigned int ipi_wait_us;
	enum sgx_va_policy va_policy; /* fixed at creation */
	enum sgx_contents_policy contents_policy; /* fixed at creation */
	/* Contents placement (core.h); map NULL: mmap() chooses. */
	struct sgx_core_contents_ops contents_ops;

	/* lru_lock guards lru (threaded through sgx_epc_page.list) and the
	 * RECLAIMER_TRACKED bit of the pages on it or isolated from it.
	 * nr_lru is written under lru_lock and read without it. */
	pthread_mutex_t lru_lock;
	struct list_head lru;
	_Atomic uint64_t nr_lru;

	/* Backing accounting.  Invariant (when no reclaim runs):
	 *   backing_charged == sum over enclaves of encl->charged. */
	_Atomic uint64_t backing_limit;
	_Atomic uint64_t backing_charged;

	/* VA pages of every enclave, and their slots in use.  Invariant:
	 *   nr_va_slots_used == sum of encl->nr_written_back +
	 *   encl->nr_va_retired (when no write-back is in flight). */
	_Atomic uint64_t nr_va_pages;
	_Atomic uint64_t nr_va_slots_used;

	/* leak_lock guards leaked: frames EREMOVE refused (a page removed
	 * while threads were inside, the SECS that kept its children; a
	 * child whose frame machine-checks keeps its SECS's child count up
	 * for good), kept out of the page cache, threaded through
	 * sgx_epc_page.list, and EREMOVEd again now and then
	 * (core_leak_retry()).  Innermost lock.  Invariant:
	 *     nr_leaked == length(leaked). */
	pthread_mutex_t leak_lock;
	struct list_head leaked;
	_Atomic uint64_t nr_leaked;
	_Atomic uint64_t leak_retried_ns; /* CLOCK_MONOTONIC_COARSE of the last retry */

	/* Enclaves their owners released that are not torn down yet (a
	 * reclaimer still holds them): their frames and charges are about to
	 * come back, so an allocation waits for them rather than fail. */
	_Atomic uint64_t nr_dying;

	/* encls_lock guards encls (threaded through encl->core_link). */
	pthread_mutex_t encls_lock;
	struct list_head encls;
	uint64_t nr_encls;

	/* ksgxd_lock guards ksgxd_wake, ksgxd_stop and nr_busy; ksgxd_cond
	 * wakes the reclaimer thread, idle_cond those waiting for nr_busy to
	 * reach 0. */
	pthread_mutex_t ksgxd_lock;
	pthread_cond_t ksgxd_cond;
	pthread_cond_t idle_cond;
	bool ksgxd_wake;
	_Atomic bool ksgxd_stop; /* written under ksgxd_lock, read anywhere */
	unsigned int nr_busy; /* reclaim batches in flight, in any thread */
	bool has_ksgxd;
	pthread_t ksgxd;

	struct core_counters counters;
};

/* sgx_encl_page.flags, under encl->lock. */
#define ENCL_PAGE_BEING_RECLAIMED (1U << 0) /* a reclaimer is writing it back */
#define ENCL_PAGE_BLOCKED (1U << 1) /* EBLOCKed, not written back */
#define ENCL_PAGE_POISONED (1U << 2) /* its frame failed: contents lost */
/* A view was told the page cannot be had (a poisoned entry there): the
 * next load zaps the views so that they fault again. */
#define ENCL_PAGE_VIEW_SIGBUS (1U << 3)
/* Loaded, and its backing page and PCMD record are still to be released
 * (encl_backing_flush()). */
#define ENCL_PAGE_RELEASE_PENDING (1U << 4)

/* Loaded pages whose backing memory is released in one sorted pass. */
#define ENCL_RELEASE_CHUNK 256

/*
 * One page of an enclave (the kernel's struct sgx_encl_page).  Guarded by
 * encl->lock, except young (an atomic the aging reads without the lock).
 *
 * States:
 *   resident:      epc_page != NULL, va_page == NULL
 *   written back:  epc_page == NULL, va_page != NULL (slot va_offset)
 * A resident child is on the LRU, or isolated by a reclaimer, or was
 * dropped from reclaim because its frame is poisoned.
 */
struct sgx_encl_page {
	struct sgx_encl *encl;
	struct list_head link; /* encl->page_list (children only) */
	struct sgx_epc_page *epc_page;
	struct sgx_va_page *va_page;
	uint64_t index; /* page number in the enclave; the SECS's is size >> 12 */
	uint16_t va_offset; /* bytes into va_page */
	uint8_t type; /* enum sgx_page_type */
	uint8_t max_prot; /* PROT_* a mapping may have (vm_max_prot_bits), fixed at EADD */
	uint32_t flags; /* ENCL_PAGE_* */
	_Atomic bool young; /* touched since the reclaimer last aged it */
};

struct sgx_encl_view;

/*
 * A VA page: 512 slots that hold the versions of written-back pages.
 * Guarded by its enclave's lock.  Invariant: nr_used == number of bits set
 * in used == number of the enclave's pages written back into its slots,
 * or 512 once its frame failed (its free slots are retired then).
 */
struct sgx_va_page {
	struct sgx_epc_page *epc_page;
	struct list_head list; /* encl->va_pages */
	unsigned int nr_used;
	uint64_t used[SGX_VA_SLOT_COUNT / 64];
};

/* sgx_encl.flags, under encl->lock. */
#define ENCL_INITIALIZED (1U << 0)
#define ENCL_DEBUG (1U << 1)
#define ENCL_RELEASED (1U << 2) /* the owner let go */
#define ENCL_SECS_POISONED (1U << 3) /* the SECS frame failed */

/*
 * Under the on-demand VA policy, keep one VA page spare when emptied ones
 * are freed: an enclave always has at least one free slot, so a write-back
 * never has to allocate (a reclaimer that uses the last free slot turns the
 * frame it just freed into a new VA page).  An emptied VA page is freed
 * only while the others still have this many free slots, so that a load
 * and a write-back in turn at a page boundary do not EPA and EREMOVE each
 * time.  (Under the kernel's policy there is a slot for every page the
 * enclave has, and VA pages stay until release.)
 */
#define ENCL_VA_FREE_KEEP 64

struct sgx_encl {
	struct sgx_core *core;
	_Atomic unsigned long refcount;

	/*
	 * hooks_lock guards ops and ops_ctx: the owner's context may go
	 * with its release, which clears ops (write) and so waits for a
	 * hook that runs (read) while a reclaimer still holds the enclave.
	 * has_hooks is fixed at creation: without hooks, no lock is taken.
	 */
	pthread_rwlock_t hooks_lock;
	bool has_hooks;
	const struct sgx_encl_ops *ops;
	void *ops_ctx;
	uint64_t base;
	uint64_t size;
	uint64_t nr_index; /* size >> 12 */
	int backing_fd;
	uint8_t *backing; /* the core's mapping of it */
	uint64_t backing_size;
	struct list_head core_link; /* core->encls, under core->encls_lock */

	/*
	 * The contents object (DESIGN.md, Memory): a memfd of the enclave's
	 * size in which page i's bytes live at byte i * 4096 while it is
	 * resident (its frame is bound there with sgx_cpu_frame_bind()); a
	 * written-back page is a hole (punched when its reclaim batch ends;
	 * until then its stale bytes are only memory: every access checks
	 * the page's state first).  contents is the emulator's own
	 * mapping of it, the only one through which the emulator touches page
	 * bytes.  Both are set at creation and fixed until teardown.
	 */
	int contents_fd;
	uint8_t *contents;

	/*
	 * Who holds the enclave open: the owner until sgx_encl_release(), and
	 * each application view until it is destroyed (as the kernel's VMAs
	 * hold the enclave's file).  The owner's release happens when this
	 * drops to zero.
	 */
	_Atomic unsigned long users;

	/* views_lock guards views (struct sgx_encl_view.link).  nr_views is
	 * written under it for writing and read anywhere: a view made after
	 * a zap looked at it maps nothing yet, so it needs no zap. */
	pthread_rwlock_t views_lock;
	struct list_head views;
	_Atomic unsigned int nr_views;

	/*
	 * lock guards everything below.  reclaim_cond is signalled (under
	 * lock) when a page leaves ENCL_PAGE_BEING_RECLAIMED.
	 *
	 * Invariants (checked by encl_check()):
	 *   charged == nr_written_back + nr_in_flight + nr_pcmd_pages
	 *   sum of pcmd_used[] == nr_written_back + nr_in_flight
	 *   nr_pcmd_pages == number of nonzero pcmd_used[]
	 *   sum of va_page->nr_used == nr_written_back + nr_ewb_waiting +
	 *                              nr_va_retired
	 *   under the kernel's VA policy:
	 *   nr_va_pages == ceil(page_cnt / 512) + nr_va_spare
	 *   secs_child_cnt == number of resident children
	 */
	pthread_mutex_t lock;
	pthread_cond_t reclaim_cond;
	uint32_t flags; /* ENCL_* */
	struct sgx_encl_page secs;
	struct sgx_encl_page **pages; /* nr_index entries, mmap'd */
	struct list_head page_list; /* every child, for teardown and checks */
	size_t pages_bytes;
	uint64_t nr_pages; /* children added */
	uint64_t secs_child_cnt; /* resident children */
	struct list_head va_pages; /* pages with free slots first */
	uint64_t nr_va_pages;
	uint64_t va_free_slots;
	uint8_t *pcmd_used; /* per PCMD page: records in use or reserved */
	uint64_t nr_pcmd_slots; /* entries of pcmd_used */
	uint64_t nr_written_back; /* children and SECS */
	uint64_t nr_in_flight; /* charged for a write-back not done yet */
	uint64_t nr_ewb_waiting; /* EWBs holding a slot while the lock is dropped */
	uint64_t nr_va_retired; /* free slots of VA pages whose frame failed */
	/* Pages the enclave has, its SECS included: the kernel's page_cnt,
	 * by which sgx_encl_grow() adds a VA page at every 512th. */
	uint64_t page_cnt;
	/* VA pages made beyond the policy's count, for write-backs that found
	 * no free slot after a VA page failed (phase_prepare()). */
	uint64_t nr_va_spare;
	uint64_t nr_pcmd_pages;
	uint64_t charged;
	/* Counters since creation (sgx_encl_stats()): children written back
	 * and loaded, and calls of the fault path (those that loaded). */
	uint64_t nr_ewbs;
	uint64_t nr_eldus;
	uint64_t nr_faults;
	uint64_t nr_faults_loaded;
	/* Pages loaded whose backing memory is not released yet, by index,
	 * oldest first from release_head, in a ring of release_cap entries
	 * (backing.c, Release); an entry counts only while its page has
	 * ENCL_PAGE_RELEASE_PENDING. */
	uint64_t *release;
	uint64_t release_cap;
	uint64_t release_head;
	uint64_t nr_release;
	/* Frames whose bytes are bound into contents.  A frame EREMOVE
	 * refused stays bound: then the teardown keeps contents mapped. */
	uint64_t nr_bound;
};

/* --- core.c --- */
void core_lru_add(struct sgx_core *core, struct sgx_epc_page *page);
/* Takes the page off the LRU for good.  Returns false if a reclaimer has
 * isolated it (it will put it back or write it back). */
bool core_lru_del(struct sgx_core *core, struct sgx_epc_page *page);
/* Takes a page on the LRU off it for a write-back; it stays tracked.
 * false if it is not on the LRU (isolated already, or never tracked). */
bool core_lru_isolate(struct sgx_core *core, struct sgx_epc_page *page);
void core_lru_putback(struct sgx_core *core, struct sgx_epc_page *page);
/* Drops an isolated page from reclaim without putting it back. */
void core_lru_untrack(struct sgx_core *core, struct sgx_epc_page *page);
/* Keeps a frame that could not be EREMOVEd out of circulation. */
void core_leak_frame(struct sgx_core *core, struct sgx_epc_page *page);
/* EREMOVEs the kept frames again, at most once per 10 ms, and frees those
 * it now removes (the statistics count both).  Context: any; takes
 * leak_lock (trylock: a retry under way is enough). */
void core_leak_retry(struct sgx_core *core);
bool core_try_charge(struct sgx_core *core, uint64_t pages);
void core_uncharge(struct sgx_core *core, uint64_t pages);
void core_busy_begin(struct sgx_core *core);
void core_busy_end(struct sgx_core *core);

/* The counters' equations of struct sgx_encl, checked in O(1) in debug
 * builds wherever the enclave's lock is about to be dropped with no
 * write-back half done in this thread.  Context: encl->lock. */
static inline void encl_assert_counts(const struct sgx_encl *encl)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(encl->charged ==
		    encl->nr_written_back + encl->nr_in_flight + encl->nr_pcmd_pages);
	SGXEMU_ASSERT(encl->nr_va_pages * SGX_VA_SLOT_COUNT - encl->va_free_slots ==
		    encl->nr_written_back + encl->nr_ewb_waiting + encl->nr_va_retired);
	SGXEMU_ASSERT(encl->core->va_policy != SGX_VA_POLICY_KERNEL ||
		      encl->nr_va_pages == (encl->page_cnt + SGX_VA_SLOT_COUNT - 1) /
						   SGX_VA_SLOT_COUNT + encl->nr_va_spare);
	(void)encl;
}

/* --- encl.c --- */
void encl_get(struct sgx_encl *encl);
bool encl_get_unless_zero(struct sgx_encl *encl);
void encl_put(struct sgx_encl *encl);
/* EREMOVEs a frame and frees it; a frame EREMOVE refuses (other than by a
 * machine check) is leaked, as the kernel does.  Context: encl->lock. */
void encl_free_epc_page(struct sgx_encl *encl, struct sgx_epc_page *page);
int encl_check(struct sgx_encl *encl, char *why, size_t why_len);
static inline void *encl_page_addr(const struct sgx_epc_page *page)
{
	return page->addr;
}
static inline uint64_t encl_pcmd_slot(uint64_t index)
{
	return index / (SGX_PAGE_SIZE / sizeof(struct sgx_pcmd));
}

/* Binds a free frame's bytes to page index of the contents object, before
 * the leaf that fills it (EADD, ELDU).  0 or -EIO.  Context: encl->lock. */
int encl_frame_bind(struct sgx_encl *encl, struct sgx_epc_page *frame, uint64_t index);
/* Gives a frame whose EPCM entry is invalid again (EWB, EREMOVE, a failed
 * EADD or ELDU) its own bytes back, so that it can go to the page cache or
 * become a VA page.  A frame still valid stays bound.  Context: encl->lock. */
void encl_frame_unbind(struct sgx_encl *encl, struct sgx_epc_page *frame);
/* Clears pages [index, index + n) of the contents object, which left the
 * EPC: zeroed under the keep policy, their host memory released under
 * release (core.h; for one page, encl_contents_punch()).  Context: encl->lock (a
 * page's state is checked under it before its memory goes). */
void encl_contents_punch_range(struct sgx_encl *encl, uint64_t index, uint64_t n);
static inline void encl_contents_punch(struct sgx_encl *encl, uint64_t index)
{
	encl_contents_punch_range(encl, index, 1);
}
/* Page index's bytes in the emulator's view. */
static inline uint8_t *encl_contents_page(const struct sgx_encl *encl, uint64_t index)
{
	return encl->contents + (index << SGX_PAGE_SHIFT);
}
/* The owner's hooks (encl.h), unless the owner has released the enclave.
 * Context: no lock, or encl->lock for kick. */
void encl_hook_zap(struct sgx_encl *encl, uint64_t offset, enum sgx_encl_zap_reason why);
void encl_hook_kick(struct sgx_encl *encl);
/* The owner or a view lets go; the last one releases the enclave. */
void encl_users_put(struct sgx_encl *encl);
/*
 * Serves a fault of an application view at offset: makes the page
 * resident (loading it if it was written back), marks it young and calls
 * resolve(view, offset, 0) to map it, or resolve(view, offset, -errno)
 * when it cannot be had (resolve then makes the access fail), both with
 * encl->lock held so that no write-back can start between the check and
 * the mapping.  Returns resolve's answer.
 */
int encl_view_fault(struct sgx_encl *encl, uint64_t offset,
		    int (*resolve)(struct sgx_encl_view *view, uint64_t offset, int err),
		    struct sgx_encl_view *view);

/* --- view.c --- */
/* Removes the page at offset from every application view (MADV_DONTNEED:
 * the shared mapping keeps its contents), so that the next touch faults.
 * Context: no lock, or encl->lock. */
void encl_views_zap(struct sgx_encl *encl, uint64_t offset);

/* --- va.c --- (Context: encl->lock for all) */
/* Turns a frame the caller owns (invalid in the EPCM) into a VA page of the
 * enclave (*va, if va is not NULL).  0 or -EIO (the frame is then the
 * caller's still). */
int encl_va_add_frame(struct sgx_encl *encl, struct sgx_epc_page *frame, struct sgx_va_page **va);
/* Under the kernel's VA policy, whether the enclave's next page needs a new
 * VA page first (sgx_encl_grow(): page_cnt is a multiple of 512).  The
 * first VA page, made with the SECS, is made under both policies. */
bool encl_va_grow_needed(const struct sgx_encl *encl);
/* EREMOVEs and frees a VA page none of whose slots is in use: the one a
 * page that was not added after all grew (sgx_encl_shrink()). */
void encl_va_remove(struct sgx_encl *encl, struct sgx_va_page *va);
/* Takes a free slot: 0 and the page and offset, or -ENOSPC. */
int encl_va_alloc_slot(struct sgx_encl *encl, struct sgx_va_page **va, uint16_t *offset);
/* Gives a slot back; under the on-demand policy, frees its VA page when
 * empty and others have enough free slots. */
void encl_va_free_slot(struct sgx_encl *encl, struct sgx_va_page *va, uint16_t offset);
/* Takes a VA page whose frame failed out of use: its free slots count as
 * used (encl->nr_va_retired) so that no write-back picks it again; the
 * pages written back there are lost.  Freed with the enclave.  A slot the
 * caller holds on it is the caller's to count. */
void encl_va_retire(struct sgx_encl *encl, struct sgx_va_page *va);
void *encl_va_slot_addr(struct sgx_va_page *va, uint16_t offset);
/* EREMOVEs and frees every VA page (teardown). */
void encl_va_free_all(struct sgx_encl *encl);

/* --- backing.c --- */
int encl_backing_create(struct sgx_encl *encl);
void encl_backing_destroy(struct sgx_encl *encl);
/* The contents object and the emulator's mapping of it. */
int encl_contents_create(struct sgx_encl *encl);
void encl_contents_destroy(struct sgx_encl *encl);
/* Charges for writing back page (Context: encl->lock): one page for its
 * contents and one for its PCMD page if no record there is in use yet.
 * Returns false when the limit forbids it. */
bool encl_backing_charge(struct sgx_encl *encl, struct sgx_encl_page *page);
/* Returns the charge of a write-back that did not happen.  Context:
 * encl->lock, as for all below but encl_backing_read(). */
void encl_backing_refund(struct sgx_encl *encl, struct sgx_encl_page *page);
/* The write-back happened: the in-flight charge becomes a written-back one. */
void encl_backing_commit(struct sgx_encl *encl, struct sgx_encl_page *page);
/* Stores EWB's output; 0, or -EIO with the memory of what went in
 * punched out again (Context: encl->lock, page charged in flight). */
int encl_backing_write(struct sgx_encl *encl, uint64_t index, const void *contents,
		       const struct sgx_pcmd *pcmd);
/* Stores the outputs of n pages from index on, each charged in flight,
 * with one write of their contents and one of their PCMDs (the pages'
 * records are consecutive too).  0, or -EIO when the object took less than
 * all of it: then store each page with encl_backing_write(), which cleans
 * up after a page it fails for.  Context: the enclave's lock held or not;
 * the pages are being reclaimed (see store_group()). */
int encl_backing_write_run(struct sgx_encl *encl, uint64_t index, unsigned int n,
			   const void *const contents[], const struct sgx_pcmd *const pcmd[]);
/* Reads a written-back page and its PCMD; holes and a truncated object
 * read as zeros.  0 or -EIO. */
int encl_backing_read(struct sgx_encl *encl, uint64_t index, void *contents,
		      struct sgx_pcmd *pcmd);
/* The page was loaded: uncharge it, and have its backing punched out, its
 * PCMD cleared and the PCMD page punched out if it was the last record
 * there, by the next encl_backing_flush(). */
void encl_backing_loaded(struct sgx_encl *encl, struct sgx_encl_page *page);
/* Releases the backing memory of the pages loaded since the last flush
 * that were not written back again meanwhile: one punch per run of
 * consecutive pages, one per PCMD page left without records, one write of
 * zeros per run of records in a PCMD page still in use. */
void encl_backing_flush(struct sgx_encl *encl);

/* --- reclaim.c --- */
extern const struct sgx_epc_reclaim_ops core_reclaim_ops;
int core_reclaimer_start(struct sgx_core *core);
void core_reclaimer_stop(struct sgx_core *core);
/* Writes back the given pages, isolated from the LRU, each with a
 * reference on its enclave (dropped here).  results[i] (if not NULL)
 * receives 0 or the -errno of sgx_encl_evict().  Returns the EPC pages
 * freed. */
int core_reclaim_chunk(struct sgx_core *core, struct sgx_epc_page **chunk, unsigned int cnt,
		       bool age, int *results);
/* Writes the SECS back if no child is resident.  Context: encl->lock.
 * Returns 1 if it was written back and its frame went to the page cache,
 * 0 if no frame did (not needed, or the frame became the enclave's next VA
 * page), or -errno. */
int encl_reclaim_secs(struct sgx_encl *encl);

#endif /* SGXEMU_EPC_CORE_INTERNAL_H */
