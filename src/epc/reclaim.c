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
 *   write    enclave by enclave, the kernel's three-stage EWB
 *            (sgx_encl_ewb()) for all of an enclave's pages at once: EWB
 *            each into a VA slot; if some answer SGX_NOT_TRACKED, one
 *            ETRACK for the enclave and EWB those again; the outputs of the
 *            pages that went out are then stored in the backing object
 *            together, one pwritev() of contents and one of PCMDs per run
 *            of consecutive pages (a system call costs about as much as
 *            the encryption of a page); if some are still not tracked,
 *            one kick asks the threads inside to leave (the kernel's IPI),
 *            and one wait for the whole batch gives them the time, after
 *            which the pages still held up go back to the LRU, blocked,
 *            for a later batch.  Then the SECS if
 *            that was the last resident child of an initialized enclave;
 *            then free the frame (or, under the on-demand VA policy, make
 *            it the enclave's next VA page when its last free slot went);
 *   release  give the host the contents pages of the pages written back,
 *            one fallocate() per run of consecutive pages (a punch costs a
 *            TLB shootdown; a streaming batch is one run), then drop the
 *            enclave references.
 *
 * Blocking every page before writing any lets one ETRACK cover the batch,
 * and one wait cover every enclave whose threads hold it up: an allocation
 * that reclaims waits at most core->ipi_wait_us per batch, whatever the
 * number of pages or enclaves in it.
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
	struct sgx_va_page *va; /* the VA slot its EWB holds, in the write phase */
	uint16_t va_offset;
	int result; /* 0: written back; else the -errno sgx_encl_evict() gives */
	bool active; /* still in the pipeline */
	bool punch; /* written back: its contents page to release, reference held */
	bool waiting; /* not tracked yet: holds its slot through the wait */
	bool drop; /* out of the pipeline: item_drop() once no lock is held */
	bool putback; /* for that drop */
	bool ewb_now; /* its slot taken, its EWB to run with the lock dropped */
	bool stored_later; /* EWB succeeded; its output waits for store_group() */
	int leaf; /* that EWB's answer */
};

/* The items of one enclave in the write phase, tracked together: the
 * threads inside hold up all of its blocked pages or none. */
struct track_group {
	struct sgx_encl *encl;
	unsigned int nr_waiting; /* items waiting for the threads to leave */
	bool etracked; /* an ETRACK of this batch began a new epoch */
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

/* Hands a frame freed by EWB back: to the page cache, or, under the
 * on-demand VA policy, to the enclave as a VA page if it has no free slot
 * left.  Returns 1 if the page cache got it.  Context: encl->lock. */
static int encl_release_frame(struct sgx_encl *encl, struct sgx_epc_page *frame)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	if (encl->core->va_policy == SGX_VA_POLICY_ON_DEMAND && !encl->va_free_slots &&
	    encl_va_add_frame(encl, frame, NULL) == 0)
		return 0;
	sgx_free_epc_page(encl->core->epc, frame);
	return 1;
}

static int ewb_errno(int ret)
{
	if (ret == SGX_NOT_TRACKED)
		return -EAGAIN;
	if (encls_machine_checked(ret))
		return -EHWPOISON;
	return -EIO;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Where an EWB writes its output: a page and a PCMD, until they are in the
 * backing object. */
struct ewb_out {
	uint8_t *contents;
	struct sgx_pcmd *pcmd;
};

/* The SECS's output (one at a time). */
static __thread uint8_t secs_contents[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));
static __thread struct sgx_pcmd secs_pcmd;

/*
 * Each reclaiming thread's outputs for the items of a batch, item i's at
 * contents + i * 4096 and pcmd[i]: a batch's pages are EWB'd first and
 * stored together, one write per run of consecutive pages (store_group()).
 * Made at a thread's first batch, freed when it exits.
 */
struct ewb_bufs {
	uint8_t *contents;
	struct sgx_pcmd *pcmd;
};

static __thread struct ewb_bufs ewb_bufs;
static pthread_key_t ewb_bufs_key;
static pthread_once_t ewb_bufs_once = PTHREAD_ONCE_INIT;

static void ewb_bufs_free(void *arg)
{
	struct ewb_bufs *b = arg;

	free(b->contents);
	free(b->pcmd);
	b->contents = NULL;
	b->pcmd = NULL;
}

static void ewb_bufs_key_make(void)
{
	(void)pthread_key_create(&ewb_bufs_key, ewb_bufs_free);
}

/* The calling thread's buffers, made if need be; NULL if out of memory. */
static struct ewb_bufs *ewb_bufs_get(void)
{
	struct ewb_bufs *b = &ewb_bufs;

	if (b->contents)
		return b;
	pthread_once(&ewb_bufs_once, ewb_bufs_key_make);
	b->contents = aligned_alloc(SGX_PAGE_SIZE, SGX_RECLAIM_BATCH_MAX * SGX_PAGE_SIZE);
	b->pcmd = aligned_alloc(_Alignof(struct sgx_pcmd),
				SGX_RECLAIM_BATCH_MAX * sizeof(struct sgx_pcmd));
	if (!b->contents || !b->pcmd || pthread_setspecific(ewb_bufs_key, b)) {
		ewb_bufs_free(b);
		return NULL;
	}
	return b;
}

static struct ewb_out item_out(struct reclaim_item *items, const struct reclaim_item *it)
{
	size_t i = (size_t)(it - items);

	return (struct ewb_out){ ewb_bufs.contents + i * SGX_PAGE_SIZE, &ewb_bufs.pcmd[i] };
}

/* One EWB of page into slot offset of va, out to out.  A #GP is not
 * retried (encls.h): within the core's contract no other leaf holds the
 * page or the VA page, so it is a malformed operand.  Context: page
 * resident, being reclaimed and holding the slot, a child blocked; the
 * enclave's lock held or not (group_write()). */
static int ewb_page(struct sgx_core *core, struct sgx_encl_page *page, struct sgx_va_page *va,
		    uint16_t offset, struct ewb_out out)
{
	struct sgx_pageinfo pginfo;

	memset(&pginfo, 0, sizeof(pginfo));
	pginfo.contents = (uintptr_t)out.contents;
	pginfo.metadata = (uintptr_t)out.pcmd;
	return epc_ewb(core->cpu, &pginfo, page->epc_page, encl_va_slot_addr(va, offset));
}

/* The page went out (SGX_VA_SLOT_OCCUPIED: someone had written into the
 * free slot, and EWB wrote the version over it). */
static bool ewb_went_out(int leaf)
{
	return leaf == 0 || leaf == SGX_VA_SLOT_OCCUPIED;
}

/*
 * The end of a write-back (the kernel's sgx_encl_ewb() after its EWBs),
 * given the last EWB's answer.  Written back, the output goes into the
 * backing object unless stored says it is there already (if the object
 * cannot take it, the page is loaded back at once from what EWB produced)
 * and the page keeps the slot; otherwise the slot goes back.  Context: encl->lock, page resident, being reclaimed and
 * charged, holding the slot.  Returns 0 (written back), -EAGAIN (threads
 * stayed inside), -EHWPOISON, or -EIO.
 */
static int ewb_end(struct sgx_encl *encl, struct sgx_encl_page *page, struct sgx_va_page *va,
		   uint16_t offset, int ret, struct ewb_out out, bool stored)
{
	struct sgx_core *core = encl->core;
	struct sgx_epc_page *frame = page->epc_page;
	struct sgx_pageinfo pginfo;

	SGXEMU_ASSERT_HELD(&encl->lock);
	if (ewb_went_out(ret))
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

	if (!stored && encl_backing_write(encl, page->index, out.contents, out.pcmd)) {
		bool is_secs = page == &encl->secs;

		memset(&pginfo, 0, sizeof(pginfo));
		pginfo.addr = is_secs ? 0 : encl->base + (page->index << SGX_PAGE_SHIFT);
		pginfo.contents = (uintptr_t)out.contents;
		pginfo.metadata = (uintptr_t)out.pcmd;
		pginfo.secs = is_secs ? 0 : (uintptr_t)encl_page_addr(encl->secs.epc_page);
		if (epc_eldu(core->cpu, &pginfo, frame, encl_va_slot_addr(va, offset)) == 0) {
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
	struct sgx_va_page *va;
	uint16_t offset;
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
	/* A SECS needs no tracking (EWB answers SGX_CHILD_PRESENT while a
	 * child is resident): one EWB. */
	if (encl_va_alloc_slot(encl, &va, &offset))
		ret = -EAGAIN;
	else
	{
		struct ewb_out out = { secs_contents, &secs_pcmd };

		ret = ewb_end(encl, secs, va, offset, ewb_page(encl->core, secs, va, offset, out),
			      out, false);
	}
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
 * kick hook alone runs under it, in group_kick()). */

static void phase_age(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt,
		      bool age)
{
	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];

		if (sgx_epc_page_poisoned(it->frame)) {
			/* The owner learns of it at its next access. */
			core_lock(&it->encl->lock);
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

/* The end of the run of items of one enclave that starts at i: the
 * pages the LRU gives in a row mostly share an enclave, and the phases
 * take its lock once per run instead of once per page.  *active says
 * whether an item of the run is still in the pipeline: only then does
 * the run hold a reference to the enclave (a dropped item's went). */
static unsigned int run_end(const struct reclaim_item *items, unsigned int cnt, unsigned int i,
			    bool *active)
{
	unsigned int j = i;

	*active = false;
	while (j < cnt && items[j].encl == items[i].encl)
		*active |= items[j++].active;
	return j;
}

static void phase_prepare(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt)
{
	for (unsigned int i = 0, j; i < cnt; i = j) {
		struct sgx_encl *encl = items[i].encl;
		int result[SGX_RECLAIM_BATCH_MAX];
		bool putback[SGX_RECLAIM_BATCH_MAX];
		struct sgx_epc_page *frame;
		bool need_va = false, active;

		j = run_end(items, cnt, i, &active);
		if (!active)
			continue;
		core_lock(&encl->lock);
		for (unsigned int k = i; k < j; k++) {
			struct reclaim_item *it = &items[k];

			result[k] = 0;
			putback[k] = true;
			if (!it->active)
				continue;
			if (encl->flags & ENCL_SECS_POISONED) {
				result[k] = -EHWPOISON;
				putback[k] = false;
			} else if (encl->flags & ENCL_RELEASED) {
				result[k] = -EBUSY; /* its teardown comes; no use writing */
			} else if (!encl_backing_charge(encl, it->page)) {
				result[k] = -ENOMEM;
			} else {
				it->page->flags |= ENCL_PAGE_BEING_RECLAIMED;
				need_va = !encl->va_free_slots;
			}
		}
		pthread_mutex_unlock(&encl->lock);
		for (unsigned int k = i; k < j; k++)
			if (items[k].active && result[k])
				item_drop(core, &items[k], result[k], putback[k]);
		/* No free slot only after a VA page failed (its free slots
		 * retired) or EPA of a frame did: try for a free frame,
		 * outside the lock as every allocation.  Under the kernel's
		 * policy it is a VA page beyond the policy's count; one gives
		 * slots for the whole run. */
		if (need_va && sgx_alloc_epc_page(core->epc, NULL, false, &frame) == 0) {
			core_lock(&encl->lock);
			if (encl->va_free_slots || encl_va_add_frame(encl, frame, NULL))
				sgx_free_epc_page(core->epc, frame);
			else
				encl->nr_va_spare++;
			encl_assert_counts(encl);
			pthread_mutex_unlock(&encl->lock);
		}
	}
}

/* Every page of a run is zapped (no lock held), then blocked under one
 * hold of the enclave's lock. */
static void phase_block(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt)
{
	for (unsigned int i = 0, j; i < cnt; i = j) {
		struct sgx_encl *encl = items[i].encl;
		bool active;

		j = run_end(items, cnt, i, &active);
		if (!active)
			continue;
		for (unsigned int k = i; k < j; k++)
			if (items[k].active)
				zap(encl, items[k].page, SGX_ZAP_RECLAIM);
		core_lock(&encl->lock);
		for (unsigned int k = i; k < j; k++) {
			struct reclaim_item *it = &items[k];
			int ret;

			if (!it->active || (it->page->flags & ENCL_PAGE_BLOCKED))
				continue;
			ret = epc_eblock(core->cpu, it->frame, &core->counters.conflict_retries);
			if (ret == 0 || ret == SGX_BLKSTATE)
				it->page->flags |= ENCL_PAGE_BLOCKED;
			else
				it->result = ewb_errno(ret);
		}
		pthread_mutex_unlock(&encl->lock);
	}
}

/*
 * The bookkeeping of a write-back done (ret 0) or not made (the kernel's
 * sgx_reclaimer_write() after sgx_encl_ewb()).  The item leaves the
 * pipeline: written back, its reference goes in phase_release(); else it is
 * marked for drop_pending().  Returns the frames freed (the page's and maybe
 * the SECS's).  Context: encl->lock.
 */
static int write_done(struct sgx_core *core, struct reclaim_item *it, int ret)
{
	struct sgx_encl *encl = it->encl;
	struct sgx_encl_page *page = it->page;
	bool putback = true;
	int freed = 0;

	SGXEMU_ASSERT_HELD(&encl->lock);
	page->flags &= ~ENCL_PAGE_BEING_RECLAIMED;
	if (ret == 0) {
		encl_backing_commit(encl, page);
		page->epc_page = NULL;
		page->flags &= ~ENCL_PAGE_BLOCKED;
		encl->secs_child_cnt--;
		encl->nr_ewbs++;
		core_count(core, pages_written_back);
		core_lru_untrack(core, it->frame);
		/* The frame gets its own bytes back before it is reused; the
		 * page's memory goes back in phase_release(). */
		encl_frame_unbind(encl, it->frame);
		freed = encl_release_frame(encl, it->frame);
		if (encl_reclaim_secs(encl) > 0)
			freed++;
		it->punch = true;
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
		it->drop = true;
		it->putback = putback;
	}
	it->result = ret;
	it->active = false;
	return freed;
}

/* Drops the items write_done() took out of the pipeline.  Context: no
 * lock (a reference may be the last). */
static void drop_pending(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt)
{
	for (unsigned int i = 0; i < cnt; i++) {
		if (!items[i].drop)
			continue;
		items[i].drop = false;
		item_drop(core, &items[i], items[i].result, items[i].putback);
	}
}

/* An item starts or stops waiting for the threads inside, its slot held
 * while the lock is dropped (encl->nr_ewb_waiting).  Context: encl->lock. */
static void item_wait(struct track_group *g, struct reclaim_item *it)
{
	it->waiting = true;
	g->nr_waiting++;
	g->encl->nr_ewb_waiting++;
}

static void item_unwait(struct track_group *g, struct reclaim_item *it)
{
	it->waiting = false;
	g->nr_waiting--;
	g->encl->nr_ewb_waiting--;
}

/* EWB of a waiting item again: done unless still not tracked.  Returns the
 * frames freed.  Context: encl->lock. */
static int item_retry(struct sgx_core *core, struct track_group *g, struct reclaim_item *items,
		      struct reclaim_item *it)
{
	struct ewb_out out = item_out(items, it);
	int leaf = ewb_page(core, it->page, it->va, it->va_offset, out);

	if (leaf == SGX_NOT_TRACKED)
		return 0;
	item_unwait(g, it);
	return write_done(core, it, ewb_end(g->encl, it->page, it->va, it->va_offset, leaf, out, false));
}

/*
 * After an EWB of one of the group's items: not tracked, it waits; gone
 * out, its output is stored with the group's (store_group()); refused, it
 * ends now.  Returns the frames freed.  Context: encl->lock.
 */
static int item_ewb_answer(struct sgx_core *core, struct track_group *g,
			   struct reclaim_item *items, struct reclaim_item *it, int leaf)
{
	if (leaf == SGX_NOT_TRACKED) {
		if (!it->waiting)
			item_wait(g, it);
		return 0;
	}
	if (it->waiting)
		item_unwait(g, it);
	if (ewb_went_out(leaf)) {
		it->stored_later = true;
		it->leaf = leaf;
		return 0;
	}
	return write_done(core, it,
			  ewb_end(g->encl, it->page, it->va, it->va_offset, leaf, item_out(items, it),
				  false));
}

/*
 * Stores the outputs of the group's pages written back, in ascending page
 * order, one run of consecutive pages per write of their contents and one
 * per write of their PCMDs (encl_backing_write_run()), and says in stored[]
 * which went in.  Context: no lock: the pages are being reclaimed, so no
 * load reads their backing and no release (encl_backing_flush()) punches
 * it (their charge took them off the release list), and their slots are
 * counted in encl->nr_ewb_waiting.
 */
static void store_group(struct track_group *g, struct reclaim_item *items, unsigned int cnt,
			bool stored[])
{
	struct reclaim_item *run[SGX_RECLAIM_BATCH_MAX];
	const void *contents[SGX_RECLAIM_BATCH_MAX];
	const struct sgx_pcmd *pcmd[SGX_RECLAIM_BATCH_MAX];
	unsigned int n = 0;

	/* Insertion sort by page index: a batch is at most 64 items. */
	for (unsigned int i = 0; i < cnt; i++) {
		unsigned int j = n++;

		if (!items[i].stored_later || items[i].encl != g->encl) {
			n--;
			continue;
		}
		while (j > 0 && run[j - 1]->page->index > items[i].page->index) {
			run[j] = run[j - 1];
			j--;
		}
		run[j] = &items[i];
	}
	for (unsigned int a = 0; a < n;) {
		unsigned int b = a + 1;

		while (b < n && run[b]->page->index == run[b - 1]->page->index + 1)
			b++;
		for (unsigned int k = a; k < b; k++) {
			struct ewb_out out = item_out(items, run[k]);

			contents[k - a] = out.contents;
			pcmd[k - a] = out.pcmd;
		}
		if (encl_backing_write_run(g->encl, run[a]->page->index, b - a, contents, pcmd) == 0)
			for (unsigned int k = a; k < b; k++)
				stored[run[k] - items] = true;
		a = b;
	}
}

/* Ends the write-back of each page store_group() was given (a page it could
 * not store is stored alone by ewb_end(), which also handles a failure).
 * Returns the frames freed.  Context: encl->lock. */
static int store_group_end(struct sgx_core *core, struct track_group *g,
			   struct reclaim_item *items, unsigned int cnt, const bool stored[])
{
	int freed = 0;

	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];

		if (!it->stored_later || it->encl != g->encl)
			continue;
		it->stored_later = false;
		freed += write_done(core, it,
				    ewb_end(g->encl, it->page, it->va, it->va_offset, it->leaf,
					    item_out(items, it), stored[i]));
	}
	return freed;
}

/*
 * The group's one ETRACK (sgx_encl_ewb()'s second stage): true if it began
 * a new epoch now.  The processor refuses it while threads of the epoch
 * before are inside; then the wait tries it again, and the first that runs
 * completes the tracking of every page blocked before it once the threads
 * inside at it have left.  Context: encl->lock.
 */
static bool group_etrack(struct sgx_core *core, struct track_group *g)
{
	if (g->etracked ||
	    epc_etrack(core->cpu, g->encl->secs.epc_page, &core->counters.conflict_retries))
		return false;
	g->etracked = true;
	core_count(core, ewb_etracks);
	return true;
}

/* Asks the threads inside to leave (the kernel's on_each_cpu_mask() of
 * sgx_ipi_cb(), whose interrupt makes each CPU in the enclave exit it).
 * Sent after the ETRACK, as the kernel builds its mask after it, so that
 * no thread the tracking waits for (one inside at the ETRACK) is missed.
 * Context: encl->lock. */
static void group_kick(struct sgx_core *core, struct track_group *g)
{
	core_count(core, ewb_kicks);
	encl_hook_kick(g->encl);
}

/* Context: encl->lock, dropped here. */
static void group_unlock(struct track_group *g)
{
	pthread_cond_broadcast(&g->encl->reclaim_cond);
	encl_assert_counts(g->encl);
	pthread_mutex_unlock(&g->encl->lock);
}

/* Slots the group's items hold that no count covers while the lock is
 * dropped (for the unlocked EWBs and stores of group_write()). */
static uint64_t group_held_slots(const struct track_group *g, const struct reclaim_item *items,
				 unsigned int cnt, bool (*held)(const struct reclaim_item *))
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < cnt; i++)
		n += items[i].encl == g->encl && held(&items[i]);
	return n;
}

static bool item_ewb_pending(const struct reclaim_item *it)
{
	return it->ewb_now;
}

static bool item_store_pending(const struct reclaim_item *it)
{
	return it->stored_later;
}

/*
 * The first two stages of the kernel's sgx_encl_ewb(), for the pages of one
 * enclave at once: EWB each; if some are not tracked, one ETRACK and EWB
 * those again; if some still are not, one kick, and they wait (with their
 * slots) for wait_for_threads().  Returns the frames freed.  Context: no
 * lock.
 *
 * The EWBs and the store of their outputs run with the enclave's lock
 * dropped, as the kernel's reclaimer takes encl->lock around each page's
 * bookkeeping rather than the whole batch: each page is being reclaimed
 * (a load waits for it, sgx_encl_evict() refuses it) and blocked, and its
 * slot is its own, so nothing else touches it meanwhile; the owner's
 * faults on other pages go on instead of waiting out 16 encryptions and a
 * write to the backing object.
 */
static int group_write(struct sgx_core *core, struct track_group *g, struct reclaim_item *items,
		       unsigned int cnt)
{
	bool stored[SGX_RECLAIM_BATCH_MAX] = { false };
	int leaves[SGX_RECLAIM_BATCH_MAX];
	struct sgx_encl *encl = g->encl;
	uint64_t held;
	int freed = 0, leaf;

	core_lock(&encl->lock);
	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];

		if (!it->active || it->encl != encl)
			continue;
		if (it->result) { /* EBLOCK refused it */
			freed += write_done(core, it, it->result);
			continue;
		}
		/* A free slot is always there, unless EPA of a frame failed
		 * (see phase_prepare()). */
		if (encl_va_alloc_slot(encl, &it->va, &it->va_offset)) {
			freed += write_done(core, it, -EAGAIN);
			continue;
		}
		it->ewb_now = true;
	}
	held = group_held_slots(g, items, cnt, item_ewb_pending);
	encl->nr_ewb_waiting += held;
	pthread_mutex_unlock(&encl->lock);

	for (unsigned int i = 0; i < cnt; i++)
		if (items[i].ewb_now && items[i].encl == encl)
			leaves[i] = ewb_page(core, items[i].page, items[i].va, items[i].va_offset,
					     item_out(items, &items[i]));

	core_lock(&encl->lock);
	encl->nr_ewb_waiting -= held;
	for (unsigned int i = 0; i < cnt; i++) {
		struct reclaim_item *it = &items[i];

		if (!it->ewb_now || it->encl != encl)
			continue;
		it->ewb_now = false;
		freed += item_ewb_answer(core, g, items, it, leaves[i]);
	}
	if (g->nr_waiting) {
		group_etrack(core, g);
		for (unsigned int i = 0; i < cnt; i++) {
			struct reclaim_item *it = &items[i];

			if (it->waiting && it->encl == encl) {
				core_count(core, ewb_retry_etrack);
				leaf = ewb_page(core, it->page, it->va, it->va_offset,
						item_out(items, it));
				freed += item_ewb_answer(core, g, items, it, leaf);
			}
		}
	}
	held = group_held_slots(g, items, cnt, item_store_pending);
	if (held) {
		encl->nr_ewb_waiting += held;
		pthread_mutex_unlock(&encl->lock);
		store_group(g, items, cnt, stored);
		core_lock(&encl->lock);
		encl->nr_ewb_waiting -= held;
		freed += store_group_end(core, g, items, cnt, stored);
	}
	if (g->nr_waiting) {
		for (unsigned int i = 0; i < cnt; i++)
			if (items[i].waiting && items[i].encl == encl)
				core_count(core, ewb_retry_ipi);
		core_count(core, ewb_ipi_waits);
		group_kick(core, g);
	}
	group_unlock(g);
	return freed;
}

/*
 * The third stage, for every enclave of the batch at once: one wait of at
 * most core->ipi_wait_us for the threads asked to leave, trying each
 * enclave's waiting pages again as it goes, with its lock dropped in
 * between so that its owner's calls go on.  An ETRACK that runs only now
 * begins an epoch whose threads the first kick may have missed: they are
 * asked too.  Pages still held up at the end are given up for this batch:
 * their slots go back, and they go back to the LRU, blocked, for a later
 * batch to write back (the kernel's IPI always ends in an AEX, so it never
 * meets such a page; here a thread may stay inside).  Returns the frames
 * freed.  Context: no lock.
 */
static int wait_for_threads(struct sgx_core *core, struct track_group *groups, unsigned int ng,
			    struct reclaim_item *items, unsigned int cnt)
{
	uint64_t deadline = now_us() + core->ipi_wait_us;
	long delay_ns = 10000;
	unsigned int left = 0;
	int freed = 0;

	for (unsigned int g = 0; g < ng; g++)
		left += groups[g].nr_waiting != 0;
	core_count(core, ewb_batch_waits);
	while (left && now_us() < deadline) {
		nanosleep(&(struct timespec){ 0, delay_ns }, NULL);
		if (delay_ns < 1000000)
			delay_ns *= 2;
		for (unsigned int g = 0; g < ng; g++) {
			struct track_group *grp = &groups[g];

			if (!grp->nr_waiting)
				continue;
			core_lock(&grp->encl->lock);
			if (group_etrack(core, grp))
				group_kick(core, grp);
			for (unsigned int i = 0; i < cnt && grp->nr_waiting; i++)
				if (items[i].waiting && items[i].encl == grp->encl)
					freed += item_retry(core, grp, items, &items[i]);
			left -= grp->nr_waiting == 0;
			group_unlock(grp);
		}
		drop_pending(core, items, cnt);
	}
	for (unsigned int g = 0; g < ng; g++) {
		struct track_group *grp = &groups[g];

		if (!grp->nr_waiting)
			continue;
		core_lock(&grp->encl->lock);
		for (unsigned int i = 0; i < cnt; i++) {
			struct reclaim_item *it = &items[i];

			if (!it->waiting || it->encl != grp->encl)
				continue;
			item_unwait(grp, it);
			core_count(core, ewb_gave_up);
			freed += write_done(core, it,
					    ewb_end(grp->encl, it->page, it->va, it->va_offset,
						    SGX_NOT_TRACKED, item_out(items, it), false));
		}
		group_unlock(grp);
	}
	drop_pending(core, items, cnt);
	return freed;
}

/* The write phase: the items grouped by enclave, in batch order. */
static int phase_write(struct sgx_core *core, struct reclaim_item *items, unsigned int cnt)
{
	struct track_group groups[SGX_RECLAIM_BATCH_MAX];
	unsigned int ng = 0, waiting = 0;
	int freed = 0;

	for (unsigned int i = 0; i < cnt; i++) {
		unsigned int g = 0;

		if (!items[i].active)
			continue;
		while (g < ng && groups[g].encl != items[i].encl)
			g++;
		if (g == ng)
			groups[ng++] = (struct track_group){ .encl = items[i].encl };
	}
	for (unsigned int g = 0; g < ng; g++) {
		freed += group_write(core, &groups[g], items, cnt);
		waiting += groups[g].nr_waiting != 0;
	}
	/* A group with pages waiting keeps its enclave: their references. */
	drop_pending(core, items, cnt);
	if (waiting)
		freed += wait_for_threads(core, groups, ng, items, cnt);
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
		core_lock(&encl->lock);
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
		items[i].va = NULL;
		items[i].va_offset = 0;
		items[i].result = 0;
		items[i].active = true;
		items[i].punch = false;
		items[i].waiting = false;
		items[i].drop = false;
		items[i].putback = false;
		items[i].ewb_now = false;
		items[i].stored_later = false;
		items[i].leaf = 0;
	}
	/* Nowhere to write EWB's output: nothing goes out this batch. */
	if (!ewb_bufs_get()) {
		for (unsigned int i = 0; i < cnt; i++)
			item_drop(core, &items[i], -ENOMEM, true);
		if (results)
			for (unsigned int i = 0; i < cnt; i++)
				results[i] = items[i].result;
		return 0;
	}
	phase_age(core, items, cnt, age);
	phase_prepare(core, items, cnt);
	phase_block(core, items, cnt);
	freed = phase_write(core, items, cnt);
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
	if (sgx_epc_nr_free_listed(core->epc) || atomic_load(&core->nr_dying)) {
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
