/*
 * reclaim.c: the reclaimer (the kernel's ksgxd and sgx_reclaim_pages()).
 *
 * A batch goes through phases, each a helper below, as the kernel's does:
 *
 *   isolate  take up to core->batch pages from the LRU head, each with a
 *            reference on its enclave (pages of an enclave being torn
 *            down are left for the teardown);
 *   age      a page touched since the last scan is young: clear it, zap
 *            the application's views so the next touch shows, and put the
 *            page back at the tail;
 *   prepare  charge its backing (or leave it resident at the limit) and
 *            mark it being reclaimed, so the owner's faults wait;
 *   block    zap the application's views, EBLOCK;
 *   write    EWB into a VA slot and the backing object, with the kernel's
 *            retries: SGX_NOT_TRACKED -> ETRACK and EWB again -> still not
 *            tracked -> ask the threads inside to leave ("IPI") and retry
 *            until they have, or give the page up for this round; then the
 *            SECS if that was the last resident child of an initialized
 *            enclave; then free the frame (or make it the enclave's next VA
 *            page when its last free slot went);
 *   release  give the host the contents pages of the pages written back,
 *            one fallocate() per run of consecutive pages (a punch costs a
 *            TLB shootdown; a streaming batch is one run), then drop the
 *            enclave references.
 *
 * Blocking every page before writing any lets one ETRACK cover the batch.
 *
 * The reclaimer thread sleeps until an allocation leaves fewer than the low
 * watermark of pages free, then reclaims until the high watermark is free;
 * a timed wait catches a missed wake-up.  Allocations that find no page
 * reclaim a batch themselves through the page cache's reclaim_direct
 * callback.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "epc/core_internal.h"

struct reclaim_item {
	struct sgx_epc_page *frame;
	struct sgx_encl_page *page;
	struct sgx_encl *encl;
	int result; /* 0: written back; else the -errno sgx_encl_evict() gives */
	bool active; /* still in the pipeline */
	bool punch; /* written back: its contents page to release, reference held */
};

static void zap(struct sgx_encl *encl, struct sgx_encl_page *page, enum sgx_encl_zap_reason why)
{
	encl_views_zap(encl, page->index << SGX_PAGE_SHIFT);
	encl_hook_zap(encl, page->index << SGX_PAGE_SHIFT, why);
}

/* Takes an item out of the pipeline: its page goes back to the LRU tail
 * (putback) or leaves reclaim for good, then the enclave reference goes.
 * Context: no enclave lock (the reference may be the last). */
static void item_drop(struct sgx_core *core, struct reclaim_item *it, int result, bool putback)
{
	if (putback)
		core_lru_putback(core, it->frame);
	else
		core_lru_untrack(core, it->frame);
	it->result = result;
	it->active = false;
	encl_put(it->encl);
}

/* Hands a frame freed by EWB back: to the page cache, or to the enclave as
 * a VA page if it has no free slot left.  Returns 1 if the page cache got
 * it.  Context: encl->lock. */
static int encl_release_frame(struct sgx_encl *encl, struct sgx_epc_page *frame)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	if (!encl->va_free_slots && encl_va_add_frame(encl, frame) == 0)
		return 0;
	sgx_free_epc_page(encl->core->epc, frame);
	return 1;
}

static int ewb_errno(int ret)
{
	if (ret == SGX_NOT_TRACKED)
		return -EAGAIN;
	if (encls_faulted(ret) && encls_trapnr(ret) == X86_TRAP_MC)
		return -EHWPOISON;
	return -EIO;
}

/*
 * One EWB.  The processor answers #GP when another leaf holds the target
 * frame; a thread leaving through a TCS holds it for a moment after its
 * tracking is done, which is just when the write-back of that TCS is
 * retried.  So a #GP is tried again a few times before it counts.
 */
#define EWB_CONFLICT_TRIES 100

static int ewb_once(struct sgx_core *core, const struct sgx_pageinfo *pginfo,
		    struct sgx_epc_page *frame, void *slot)
{
	int ret = 0;

	for (unsigned int n = 0; n < EWB_CONFLICT_TRIES; n++) {
		ret = encls_ewb(core->cpu, pginfo, encl_page_addr(frame), slot);
		if (ret != SGX_EPC_PAGE_CONFLICT && ret != ENCLS_FAULT(X86_TRAP_GP))
			break;
		sched_yield();
	}
	return ret;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * The "IPI" stage: threads that were inside the enclave at the ETRACK hold
 * the write-back up.  Asks them to leave (the kick hook), then retries EWB
 * with the lock dropped in between, for up to core->ipi_wait_us.  Context:
 * encl->lock, page being reclaimed, its slot held.
 */
static int encl_ewb_wait(struct sgx_encl *encl, const struct sgx_pageinfo *pginfo,
			 struct sgx_epc_page *frame, void *slot)
{
	struct sgx_core *core = encl->core;
	uint64_t deadline = now_us() + core->ipi_wait_us;
	long delay_ns = 10000;
	int ret = SGX_NOT_TRACKED;

	encl->nr_ewb_waiting++;
	while (ret == SGX_NOT_TRACKED && now_us() < deadline) {
		encl_hook_kick(encl);
		pthread_mutex_unlock(&encl->lock);
		nanosleep(&(struct timespec){ 0, delay_ns }, NULL);
		if (delay_ns < 1000000)
			delay_ns *= 2;
		pthread_mutex_lock(&encl->lock);
		/* A second ETRACK is refused until the first one's threads are
		 * out, and then it completes the tracking: try it each time. */
		(void)ENCLS_RETRY(encls_etrack(core->cpu, encl_page_addr(encl->secs.epc_page)));
		ret = ewb_once(core, pginfo, frame, slot);
	}
	encl->nr_ewb_waiting--;
	if (ret == SGX_NOT_TRACKED)
		core_count(core, ewb_gave_up);
	return ret;
}

/*
 * EWB of page (the kernel's sgx_encl_ewb()) into a VA slot and the backing
 * object.  If the backing object cannot take the output, the page is
 * loaded back at once from what EWB produced.  Context: encl->lock, page
 * resident, being reclaimed and charged; a child is blocked.  Returns 0
 * (written back), -EAGAIN (threads stayed inside), -EHWPOISON, or -EIO.
 */
static int encl_ewb(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	static __thread uint8_t contents[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));
	struct sgx_core *core = encl->core;
	struct sgx_epc_page *frame = page->epc_page;
	struct sgx_pageinfo pginfo;
	struct sgx_va_page *va;
	struct sgx_pcmd pcmd;
	uint16_t offset;
	void *slot;
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	/* A free slot is always there, unless EPA of a frame failed (see
	 * phase_prepare()). */
	if (encl_va_alloc_slot(encl, &va, &offset))
		return -EAGAIN;
	slot = encl_va_slot_addr(va, offset);
	memset(&pginfo, 0, sizeof(pginfo));
	pginfo.contents = (uintptr_t)contents;
	pginfo.metadata = (uintptr_t)&pcmd;

	ret = ewb_once(core, &pginfo, frame, slot);
	if (ret == SGX_NOT_TRACKED) {
		core_count(core, ewb_retry_etrack);
		(void)ENCLS_RETRY(encls_etrack(core->cpu, encl_page_addr(encl->secs.epc_page)));
		ret = ewb_once(core, &pginfo, frame, slot);
		if (ret == SGX_NOT_TRACKED) {
			core_count(core, ewb_retry_ipi);
			ret = encl_ewb_wait(encl, &pginfo, frame, slot);
		}
	}
	/* The page went out; someone had written into the free slot, and EWB
	 * wrote the version over it. */
	if (ret == SGX_VA_SLOT_OCCUPIED)
		ret = 0;
	if (ret) {
		if (ret != SGX_NOT_TRACKED)
			core_count(core, ewb_failures);
		/* A VA page whose frame failed would fail every EWB given one
		 * of its slots: keep the next ones off it, this slot too (it
		 * is not freed: an emptied VA page may go). */
		if (ewb_errno(ret) == -EHWPOISON && sgx_epc_page_poisoned(va->epc_page)) {
			encl_va_retire(encl, va);
			encl->nr_va_retired++;
		} else {
			encl_va_free_slot(encl, va, offset);
		}
		return ewb_errno(ret);
	}

	if (encl_backing_write(encl, page->index, contents, &pcmd)) {
		bool is_secs = page == &encl->secs;

		pginfo.addr = is_secs ? 0 : encl->base + (page->index << SGX_PAGE_SHIFT);
		pginfo.secs = is_secs ? 0 : (uintptr_t)encl_page_addr(encl->secs.epc_page);
		if (ENCLS_RETRY(encls_eldu(core->cpu, &pginfo, encl_page_addr(frame), slot)) == 0) {
			encl_va_free_slot(encl, va, offset);
			page->flags &= ~ENCL_PAGE_BLOCKED;
			core_count(core, ewb_failures);
			return -EIO;
		}
		/* Neither stored nor restored: the page counts as written
		 * back, and every load of it will be refused. */
	}
	page->va_page = va;
	page->va_offset = offset;
	return 0;
}

int encl_reclaim_secs(struct sgx_encl *encl)
{
	struct sgx_encl_page *secs = &encl->secs;
	struct sgx_epc_page *frame = secs->epc_page;
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	if (!(encl->flags & ENCL_INITIALIZED) || encl->secs_child_cnt || !frame ||
	    (secs->flags & ENCL_PAGE_BEING_RECLAIMED) ||
	    (encl->flags & (ENCL_RELEASED | ENCL_SECS_POISONED)))
		return 0;
	if (sgx_epc_page_poisoned(frame)) {
		encl->flags |= ENCL_SECS_POISONED;
		return 0;
	}
	if (!encl_backing_charge(encl, secs))
		return -ENOMEM;
	secs->flags |= ENCL_PAGE_BEING_RECLAIMED;
	ret = encl_ewb(encl, secs);
	secs->flags &= ~ENCL_PAGE_BEING_RECLAIMED;
	pthread_cond_broadcast(&encl->reclaim_cond);
	if (ret) {
		encl_backing_refund(encl, secs);
		if (ret == -EHWPOISON && sgx_epc_page_poisoned(frame))
			encl->flags |= ENCL_SECS_POISONED;
		return ret;
	}
	encl_backing_commit(encl, secs);
	secs->epc_page = NULL;
	core_count(encl->core, secs_written_back);
	return encl_release_frame(encl, frame);
}

/* ---- Phases ---------------------------------------------------------------- */

/* Context (every phase): no lock held.  Each takes an item's enclave lock
 * around that item's step only, so that no enclave lock is held while
 * another enclave's is taken, nor while a zap or an allocation runs (the
 * kick hook alone runs under it, in encl_ewb_wait()). */

static void phase_age(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt,
		      bool age)
{
	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];

		if (sgx_epc_page_poisoned(it->frame)) {
			/* The owner learns of it at its next access. */
			pthread_mutex_lock(&it->encl->lock);
			it->page->flags |= ENCL_PAGE_POISONED;
			pthread_mutex_unlock(&it->encl->lock);
			item_drop(core, it, -EHWPOISON, false);
			continue;
		}
		if (!age)
			continue;
		if (atomic_exchange_explicit(&it->page->young, false, memory_order_relaxed)) {
			core_count(core, age_hits);
			zap(it->encl, it->page, SGX_ZAP_AGE);
			item_drop(core, it, -EBUSY, true);
			continue;
		}
		core_count(core, age_misses);
	}
}

static void phase_prepare(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt)
{
	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];
		struct sgx_encl *encl = it->encl;
		struct sgx_epc_page *frame;
		int result = 0;
		bool putback = true, need_va = false;

		if (!it->active)
			continue;
		pthread_mutex_lock(&encl->lock);
		if (encl->flags & ENCL_SECS_POISONED) {
			result = -EHWPOISON;
			putback = false;
		} else if (encl->flags & ENCL_RELEASED) {
			result = -EBUSY; /* its teardown comes; no use writing */
		} else if (!encl_backing_charge(encl, it->page)) {
			result = -ENOMEM;
		} else {
			it->page->flags |= ENCL_PAGE_BEING_RECLAIMED;
			need_va = !encl->va_free_slots;
		}
		pthread_mutex_unlock(&encl->lock);
		if (result) {
			item_drop(core, it, result, putback);
			continue;
		}
		/* No free slot only after EPA of a frame failed: try for a
		 * free frame, outside the lock as every allocation. */
		if (need_va && sgx_alloc_epc_page(core->epc, NULL, false, &frame) == 0) {
			pthread_mutex_lock(&encl->lock);
			if (encl->va_free_slots || encl_va_add_frame(encl, frame))
				sgx_free_epc_page(core->epc, frame);
			pthread_mutex_unlock(&encl->lock);
		}
	}
}

static void phase_block(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt)
{
	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];
		int ret;

		if (!it->active)
			continue;
		zap(it->encl, it->page, SGX_ZAP_RECLAIM);
		pthread_mutex_lock(&it->encl->lock);
		if (!(it->page->flags & ENCL_PAGE_BLOCKED)) {
			ret = ENCLS_RETRY(encls_eblock(core->cpu, encl_page_addr(it->frame)));
			if (ret == 0 || ret == SGX_BLKSTATE)
				it->page->flags |= ENCL_PAGE_BLOCKED;
			else
				it->result = ewb_errno(ret);
		}
		pthread_mutex_unlock(&it->encl->lock);
	}
}

/* Returns the frames freed for this item (the page's and maybe the SECS's). */
static int phase_write_one(struct sgx_core *core, struct reclaim_item *it)
{
	struct sgx_encl *encl = it->encl;
	struct sgx_encl_page *page = it->page;
	bool putback = true;
	int freed = 0, ret;

	pthread_mutex_lock(&encl->lock);
	ret = it->result ? it->result : encl_ewb(encl, page);
	page->flags &= ~ENCL_PAGE_BEING_RECLAIMED;
	if (ret == 0) {
		encl_backing_commit(encl, page);
		page->epc_page = NULL;
		page->flags &= ~ENCL_PAGE_BLOCKED;
		encl->secs_child_cnt--;
		core_count(core, pages_written_back);
		core_lru_untrack(core, it->frame);
		/* The frame gets its own bytes back before it is reused; the
		 * page's memory goes back in phase_release(). */
		encl_frame_unbind(encl, it->frame);
		freed = encl_release_frame(encl, it->frame);
		ret = encl_reclaim_secs(encl);
		if (ret > 0)
			freed += ret;
		ret = 0;
	} else {
		encl_backing_refund(encl, page);
		if (ret == -EHWPOISON) {
			if (sgx_epc_page_poisoned(it->frame)) {
				page->flags |= ENCL_PAGE_POISONED;
				putback = false;
			}
			if (encl->secs.epc_page && sgx_epc_page_poisoned(encl->secs.epc_page)) {
				encl->flags |= ENCL_SECS_POISONED;
				putback = false;
			}
		}
	}
	pthread_cond_broadcast(&encl->reclaim_cond);
	encl_assert_counts(encl);
	pthread_mutex_unlock(&encl->lock);

	if (ret == 0) {
		it->result = 0;
		it->active = false;
		it->punch = true; /* the reference goes in phase_release() */
	} else {
		item_drop(core, it, ret, putback);
	}
	return freed;
}

static int index_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Punches out the contents pages of the items written back, enclave by
 * enclave, one fallocate() per run of consecutive indices, then drops
 * their references.  A page loaded again meanwhile is resident and keeps
 * its memory: the check and the punch are under the enclave's lock.
 */
static void phase_release(struct reclaim_item *items, unsigned int cnt)
{
	uint64_t idx[SGX_RECLAIM_BATCH_MAX];

	for (unsigned int i = 0; i < cnt; i++) {
		struct sgx_encl *encl = items[i].encl;
		unsigned int n = 0;

		if (!items[i].punch)
			continue;
		for (unsigned int j = i; j < cnt; j++) {
			if (items[j].punch && items[j].encl == encl) {
				idx[n++] = items[j].page->index;
				items[j].punch = false;
			}
		}
		qsort(idx, n, sizeof(idx[0]), index_cmp);
		pthread_mutex_lock(&encl->lock);
		for (unsigned int a = 0; a < n;) {
			unsigned int b = a;

			if (encl->pages[idx[a]]->epc_page) {
				a++; /* loaded again */
				continue;
			}
			while (b + 1 < n && idx[b + 1] == idx[b] + 1 &&
			       !encl->pages[idx[b + 1]]->epc_page)
				b++;
			encl_contents_punch_range(encl, idx[a], idx[b] - idx[a] + 1);
			a = b + 1;
		}
		pthread_mutex_unlock(&encl->lock);
		for (unsigned int j = 0; j < n; j++)
			encl_put(encl); /* one per item; the last may tear it down */
	}
}

int core_reclaim_chunk(struct sgx_core *core, struct sgx_epc_page **chunk, unsigned int cnt,
		       bool age, int *results)
{
	struct reclaim_item items[SGX_RECLAIM_BATCH_MAX];
	int freed = 0;

	SGXEMU_ASSERT(cnt <= SGX_RECLAIM_BATCH_MAX);
	for (unsigned int i = 0; i < cnt; i++) {
		items[i].frame = chunk[i];
		items[i].page = chunk[i]->owner;
		items[i].encl = items[i].page->encl;
		items[i].result = 0;
		items[i].active = true;
		items[i].punch = false;
	}
	phase_age(core, items, cnt, age);
	phase_prepare(core, items, cnt);
	phase_block(core, items, cnt);
	for (unsigned int i = 0; i < cnt; i++)
		if (items[i].active)
			freed += phase_write_one(core, &items[i]);
	phase_release(items, cnt);
	if (results)
		for (unsigned int i = 0; i < cnt; i++)
			results[i] = items[i].result;
	return freed;
}

/* One batch from the LRU head.  Returns the frames freed, or -ENOMEM when
 * none was and the backing limit stopped a write-back. */
static int core_reclaim_batch(struct sgx_core *core)
{
	struct sgx_epc_page *chunk[SGX_RECLAIM_BATCH_MAX];
	int results[SGX_RECLAIM_BATCH_MAX];
	unsigned int cnt = 0;
	int freed;

	core_busy_begin(core);
	core_count(core, reclaim_batches);
	pthread_mutex_lock(&core->lru_lock);
	for (unsigned int scanned = 0; scanned < core->batch && !list_empty(&core->lru); scanned++) {
		struct sgx_epc_page *frame = list_first_entry(&core->lru, struct sgx_epc_page, list);
		struct sgx_encl_page *page = frame->owner;

		if (encl_get_unless_zero(page->encl)) {
			list_del(&frame->list);
			atomic_fetch_sub_explicit(&core->nr_lru, 1, memory_order_relaxed);
			chunk[cnt++] = frame;
		} else {
			/* Its enclave is being torn down, which takes it off. */
			list_move_tail(&frame->list, &core->lru);
		}
	}
	pthread_mutex_unlock(&core->lru_lock);

	freed = core_reclaim_chunk(core, chunk, cnt, true, results);
	core_busy_end(core);
	if (freed == 0)
		for (unsigned int i = 0; i < cnt; i++)
			if (results[i] == -ENOMEM)
				return -ENOMEM;
	return freed;
}

int sgx_core_reclaim(struct sgx_core *core)
{
	if (!core)
		return -EINVAL;
	return core_reclaim_batch(core);
}

/* ---- The page cache's callbacks --------------------------------------------- */

static bool core_can_reclaim(void *ctx)
{
	struct sgx_core *core = ctx;
	uint64_t limit = atomic_load_explicit(&core->backing_limit, memory_order_relaxed);

	if (atomic_load_explicit(&core->nr_dying, memory_order_relaxed))
		return true; /* frames and charges are about to come back */
	return atomic_load_explicit(&core->nr_lru, memory_order_relaxed) != 0 && limit != 0 &&
	       atomic_load_explicit(&core->backing_charged, memory_order_relaxed) < limit;
}

/* Batches in a row that freed nothing in this thread: an allocation gives
 * up with -ENOMEM after enough of them to have aged the whole LRU twice. */
static __thread unsigned int direct_fruitless;

static int core_reclaim_direct(void *ctx)
{
	struct sgx_core *core = ctx;
	uint64_t bound;
	int ret;

	core_count(core, direct_reclaims);
	ret = core_reclaim_batch(core);
	if (ret > 0) {
		direct_fruitless = 0;
		return ret;
	}
	/* Other threads may have freed pages while this batch found nothing
	 * to write back (the reclaimer took the last charges), or a released
	 * enclave is about to give its frames and charges back: let the
	 * allocation look again before it fails. */
	if (sgx_epc_nr_free(core->epc) || atomic_load(&core->nr_dying)) {
		direct_fruitless = 0;
		return 0;
	}
	if (ret < 0) {
		direct_fruitless = 0;
		return ret;
	}
	bound = 2 * atomic_load_explicit(&core->nr_lru, memory_order_relaxed) / core->batch + 64;
	if (++direct_fruitless > bound) {
		direct_fruitless = 0;
		return -ENOMEM;
	}
	return 0;
}

static void core_wake(void *ctx)
{
	struct sgx_core *core = ctx;

	pthread_mutex_lock(&core->ksgxd_lock);
	if (!core->ksgxd_wake) {
		core->ksgxd_wake = true;
		pthread_cond_signal(&core->ksgxd_cond);
	}
	pthread_mutex_unlock(&core->ksgxd_lock);
}

const struct sgx_epc_reclaim_ops core_reclaim_ops = {
	.can_reclaim = core_can_reclaim,
	.reclaim_direct = core_reclaim_direct,
	.wake = core_wake,
};

/* ---- The reclaimer thread ---------------------------------------------------- */

#define KSGXD_POLL_MS 50

static void *ksgxd_main(void *arg)
{
	struct sgx_core *core = arg;

	(void)sgx_cpu_paging_prepare(core->cpu);
	pthread_mutex_lock(&core->ksgxd_lock);
	while (!atomic_load(&core->ksgxd_stop)) {
		bool woken;

		if (!core->ksgxd_wake) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += KSGXD_POLL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&core->ksgxd_cond, &core->ksgxd_lock, &ts);
		}
		woken = core->ksgxd_wake;
		core->ksgxd_wake = false;
		pthread_mutex_unlock(&core->ksgxd_lock);

		if (woken)
			core_count(core, reclaimer_wakeups);
		/* Woken: work to the high watermark.  The poll only catches a
		 * wake-up that was missed, below the low one. */
		if (woken || sgx_epc_should_reclaim(core->epc, sgx_epc_low_watermark(core->epc))) {
			uint64_t high = sgx_epc_high_watermark(core->epc);
			unsigned int fruitless = 0;

			while (!atomic_load(&core->ksgxd_stop) &&
			       sgx_epc_should_reclaim(core->epc, high)) {
				int n = core_reclaim_batch(core);

				if (n < 0)
					break;
				if (n > 0) {
					fruitless = 0;
				} else if (++fruitless >
					   2 * atomic_load(&core->nr_lru) / core->batch + 4) {
					break;
				} else {
					sched_yield();
				}
			}
		}
		pthread_mutex_lock(&core->ksgxd_lock);
	}
	pthread_mutex_unlock(&core->ksgxd_lock);
	return NULL;
}

int core_reclaimer_start(struct sgx_core *core)
{
	int ret = pthread_create(&core->ksgxd, NULL, ksgxd_main, core);

	if (ret)
		return -ret;
	core->has_ksgxd = true;
	return 0;
}

void core_reclaimer_stop(struct sgx_core *core)
{
	if (!core->has_ksgxd)
		return;
	pthread_mutex_lock(&core->ksgxd_lock);
	atomic_store(&core->ksgxd_stop, true);
	pthread_cond_signal(&core->ksgxd_cond);
	pthread_mutex_unlock(&core->ksgxd_lock);
	pthread_join(core->ksgxd, NULL);
	core->has_ksgxd = false;
}
