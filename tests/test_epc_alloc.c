/*
 * test_epc_alloc.c: the EPC page cache: discovery of sections and nodes,
 * allocation to exhaustion with and without reclaim, local-node preference,
 * thread caches (exit, destruction, stealing), waits for EPC stopped by a
 * flag or a pending signal, memory failure, sanitization
 * of a machine that already holds enclaves, and a seeded multi-threaded
 * stress that checks no page is ever handed out twice.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "sgxemu/cpu.h"
#include "sgxemu/epc.h"
#include "harness.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/* Cases leave by _exit(), where LeakSanitizer does not look: they end here
 * so that anything leaked fails them under ASan. */
static void no_leaks(void)
{
#ifdef __SANITIZE_ADDRESS__
	CHECK_MSG(__lsan_do_recoverable_leak_check() == 0, "memory leaked (report above)");
#endif
}

static struct sgx_cpu *machine(uint64_t frames)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, frames * 4096);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

/* A machine with sections of the given frame counts on the given nodes. */
static struct sgx_cpu *machine_sections(unsigned int n, const uint64_t *frames, const int *nodes)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, 4096);
	cfg.nr_sections = n;
	for (unsigned int i = 0; i < n; i++) {
		cfg.sections[i].size = frames[i] * 4096;
		cfg.sections[i].node = nodes[i];
	}
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

static struct sgx_epc *page_cache(struct sgx_cpu *cpu, unsigned int tcache)
{
	struct sgx_epc_config cfg;
	struct sgx_epc *epc;

	sgx_epc_config_default(&cfg);
	cfg.tcache_pages = tcache;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), 0);
	return epc;
}

static void check_invariants(struct sgx_epc *epc)
{
	char why[256];
	int ret = sgx_epc_check(epc, why, sizeof(why));

	CHECK_MSG(ret == 0, "sgx_epc_check: %d: %s", ret, why);
}

/* Allocates every free page into pages[] (room for max), checking each frame
 * comes once; returns how many. */
static uint64_t alloc_all(struct sgx_epc *epc, struct sgx_epc_page **pages, uint64_t max,
			  uint8_t *seen, void *owner)
{
	struct sgx_cpu *cpu = sgx_epc_cpu(epc);
	struct sgx_epc_page *page;
	uint64_t n = 0;

	while (sgx_alloc_epc_page(epc, owner, false, &page) == 0) {
		int64_t f = sgx_cpu_frame_index(cpu, page->addr);

		CHECK_LT(n, max);
		CHECK_GE(f, 0);
		CHECK_MSG(!seen[f], "frame %lld handed out twice", (long long)f);
		seen[f] = 1;
		CHECK(page->owner == owner);
		CHECK_EQ(page->flags, 0);
		CHECK(!sgx_epc_page_poisoned(page));
		CHECK(sgx_epc_page_from_addr(epc, page->addr) == page);
		pages[n++] = page;
	}
	return n;
}

static void free_all(struct sgx_epc *epc, struct sgx_epc_page **pages, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sgx_free_epc_page(epc, pages[i]);
}

/* ---- A fake reclaimer: an LRU of pages the test owns --------------------- */

struct fake_reclaimer {
	struct sgx_epc *epc;
	pthread_mutex_t lock; /* guards lru, nr */
	struct list_head lru;
	uint64_t nr;
	int fail_with; /* reclaim_direct returns this if nonzero */
	atomic_int reclaims, wakes;
};

static bool fake_can_reclaim(void *ctx)
{
	struct fake_reclaimer *r = ctx;
	bool ret;

	pthread_mutex_lock(&r->lock);
	ret = r->nr > 0;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Frees the oldest page as an owner does: EREMOVE, then free. */
static int fake_reclaim_direct(void *ctx)
{
	struct fake_reclaimer *r = ctx;
	struct sgx_epc_page *page = NULL;

	atomic_fetch_add(&r->reclaims, 1);
	if (r->fail_with)
		return r->fail_with;
	pthread_mutex_lock(&r->lock);
	if (r->nr) {
		page = list_first_entry(&r->lru, struct sgx_epc_page, list);
		list_del(&page->list);
		page->flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
		r->nr--;
	}
	pthread_mutex_unlock(&r->lock);
	if (!page)
		return 0;
	CHECK_SGX(encls_eremove(sgx_epc_cpu(r->epc), page->addr), 0);
	sgx_free_epc_page(r->epc, page);
	return 1;
}

static void fake_wake(void *ctx)
{
	struct fake_reclaimer *r = ctx;

	atomic_fetch_add(&r->wakes, 1);
}

static const struct sgx_epc_reclaim_ops fake_ops = {
	.can_reclaim = fake_can_reclaim,
	.reclaim_direct = fake_reclaim_direct,
	.wake = fake_wake,
};

static void fake_init(struct fake_reclaimer *r, struct sgx_epc *epc)
{
	memset(r, 0, sizeof(*r));
	r->epc = epc;
	pthread_mutex_init(&r->lock, NULL);
	list_init(&r->lru);
	sgx_epc_set_reclaimer(epc, &fake_ops, r);
}

static void fake_track(struct fake_reclaimer *r, struct sgx_epc_page *page)
{
	pthread_mutex_lock(&r->lock);
	page->flags |= SGX_EPC_PAGE_RECLAIMER_TRACKED;
	list_add_tail(&page->list, &r->lru);
	r->nr++;
	pthread_mutex_unlock(&r->lock);
}

/* ---- Discovery ------------------------------------------------------------ */

TEST(default_machine_discovery)
{
	struct sgx_cpu *cpu = machine(256);
	struct sgx_epc *epc = page_cache(cpu, 0);
	struct sgx_epc_section_info info;
	struct sgx_epc_node_stats st;

	CHECK_EQ(sgx_epc_nr_sections(epc), 1);
	CHECK_EQ(sgx_epc_section_info(epc, 0, &info), 0);
	CHECK(info.base == sgx_cpu_frame_addr(cpu, 0));
	CHECK_EQ(info.size, 256 * 4096);
	CHECK_EQ(info.nid, 0);
	CHECK_EQ(sgx_epc_section_info(epc, 1, &info), -EINVAL);
	CHECK_EQ(sgx_epc_nr_nodes(epc), 1);
	CHECK_EQ(sgx_epc_nr_total(epc), 256);
	CHECK_EQ(sgx_epc_nr_free(epc), 256);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 0);
	CHECK_EQ(sgx_epc_node_stats(epc, 0, &st), 0);
	CHECK_EQ(st.nid, 0);
	CHECK_EQ(st.total, 256);
	CHECK_EQ(st.free, 256);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(sgx_epc_node_stats(epc, 1, &st), -EINVAL);
	CHECK_EQ(sgx_epc_low_watermark(epc), SGX_NR_LOW_PAGES);
	CHECK_EQ(sgx_epc_high_watermark(epc), SGX_NR_HIGH_PAGES);

	/* Every frame has its page; any address inside maps to it. */
	for (uint64_t i = 0; i < 256; i++) {
		char *a = sgx_cpu_frame_addr(cpu, i);
		struct sgx_epc_page *page = sgx_epc_page_from_addr(epc, a);

		CHECK(page != NULL);
		CHECK(page->addr == a);
		CHECK(sgx_epc_page_from_addr(epc, a + 4095) == page);
		CHECK_EQ(page->flags, SGX_EPC_PAGE_IS_FREE);
	}
	CHECK(sgx_epc_page_from_addr(epc, (char *)info.base + info.size) == NULL);
	CHECK(sgx_epc_page_from_addr(epc, (char *)info.base - 1) == NULL);
	CHECK(sgx_epc_page_from_addr(epc, &info) == NULL);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	check_invariants(epc);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(multi_section_discovery)
{
	static const uint64_t frames[4] = { 16, 32, 8, 64 };
	static const int nodes[4] = { 3, 0, 3, 0 };
	struct sgx_cpu *cpu = machine_sections(4, frames, nodes);
	struct sgx_epc *epc = page_cache(cpu, 0);
	struct sgx_epc_node_stats st;
	uint64_t first = 0;

	CHECK_EQ(sgx_epc_nr_sections(epc), 4);
	CHECK_EQ(sgx_epc_nr_nodes(epc), 2);
	CHECK_EQ(sgx_epc_nr_total(epc), 120);
	for (unsigned int i = 0; i < 4; i++) {
		struct sgx_epc_section_info info;

		CHECK_EQ(sgx_epc_section_info(epc, i, &info), 0);
		CHECK(info.base == sgx_cpu_frame_addr(cpu, first));
		CHECK_EQ(info.size, frames[i] * 4096);
		CHECK_EQ(info.nid, nodes[i]);
		CHECK_EQ(info.node, nodes[i] == 0 ? 0 : 1);
		for (uint64_t k = 0; k < frames[i]; k++) {
			struct sgx_epc_page *page =
				sgx_epc_page_from_addr(epc, sgx_cpu_frame_addr(cpu, first + k));

			CHECK(page != NULL);
			CHECK_EQ(page->section, i);
			CHECK_EQ(page->node, info.node);
		}
		first += frames[i];
	}
	/* Nodes in ascending id. */
	CHECK_EQ(sgx_epc_node_stats(epc, 0, &st), 0);
	CHECK_EQ(st.nid, 0);
	CHECK_EQ(st.total, 96);
	CHECK_EQ(st.free, 96);
	CHECK_EQ(sgx_epc_node_stats(epc, 1, &st), 0);
	CHECK_EQ(st.nid, 3);
	CHECK_EQ(st.total, 24);
	CHECK_EQ(st.free, 24);
	check_invariants(epc);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(config_rejected)
{
	struct sgx_cpu *cpu = machine(64);
	struct sgx_epc_config cfg;
	struct sgx_epc *epc = NULL;
	struct sgx_epc_page *page;

	sgx_epc_config_default(&cfg);
	cfg.low_watermark = 65;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), -EINVAL);
	sgx_epc_config_default(&cfg);
	cfg.tcache_pages = 1;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), -EINVAL);
	cfg.tcache_pages = SGX_EPC_TCACHE_MAX + 1;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), -EINVAL);
	sgx_epc_config_default(&cfg);
	cfg.numa_policy = 7;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), -EINVAL);
	CHECK_EQ(sgx_epc_create(NULL, NULL, &epc), -EINVAL);
	CHECK_EQ(sgx_epc_create(cpu, NULL, NULL), -EINVAL);
	CHECK(epc == NULL);

	epc = page_cache(cpu, 0);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, NULL), -EINVAL);
	CHECK_EQ(sgx_alloc_epc_page(NULL, NULL, false, &page), -EINVAL);
	CHECK_EQ(sgx_epc_thread_set_node(epc, -2), -EINVAL);
	CHECK_EQ(sgx_epc_thread_set_node(epc, SGX_EPC_MAX_NID), -EINVAL);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* ---- Allocation to exhaustion -------------------------------------------- */

static void exhaust_and_refill(unsigned int tcache)
{
	struct sgx_cpu *cpu = machine(256);
	struct sgx_epc *epc = page_cache(cpu, tcache);
	struct sgx_epc_page *pages[256], *page;
	uint8_t seen[256] = { 0 };
	int tag;

	for (int round = 0; round < 3; round++) {
		uint64_t n;

		memset(seen, 0, sizeof(seen));
		n = alloc_all(epc, pages, 256, seen, &tag);
		CHECK_EQ(n, 256);
		CHECK_EQ(sgx_epc_nr_free(epc), 0);
		/* No reclaimer: nothing can be reclaimed, with or without. */
		CHECK_EQ(sgx_alloc_epc_page(epc, &tag, false, &page), -ENOMEM);
		CHECK_EQ(sgx_alloc_epc_page(epc, &tag, true, &page), -ENOMEM);
		check_invariants(epc);
		free_all(epc, pages, n);
		CHECK_EQ(sgx_epc_nr_free(epc), 256);
		check_invariants(epc);
	}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(every_frame_once_auto_cache)
{
	exhaust_and_refill(0);
}

TEST(every_frame_once_big_cache)
{
	exhaust_and_refill(SGX_EPC_TCACHE_MAX);
}

TEST(exhaustion_with_reclaimer)
{
	struct sgx_cpu *cpu = machine(128);
	struct sgx_epc *epc = page_cache(cpu, 0);
	struct fake_reclaimer r;
	struct sgx_epc_page *page, *got[4];
	uint64_t n = 0;

	fake_init(&r, epc);
	CHECK(!sgx_epc_should_reclaim(epc, SGX_NR_LOW_PAGES));
	while (sgx_alloc_epc_page(epc, &r, false, &page) == 0) {
		fake_track(&r, page);
		n++;
	}
	CHECK_EQ(n, 128);
	CHECK(sgx_epc_should_reclaim(epc, SGX_NR_LOW_PAGES));
	CHECK(!sgx_epc_should_reclaim(epc, 0));
	CHECK_GT(atomic_load(&r.wakes), 0);

	/* Something to reclaim, but the caller may not: EBUSY, no reclaim. */
	CHECK_EQ(sgx_alloc_epc_page(epc, &r, false, &page), -EBUSY);
	CHECK_EQ(atomic_load(&r.reclaims), 0);

	/* With reclaim: one direct reclaim per page. */
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(sgx_alloc_epc_page(epc, got, true, &got[i]), 0);
		CHECK(got[i]->owner == got);
		CHECK_EQ(atomic_load(&r.reclaims), i + 1);
	}
	CHECK_EQ(r.nr, 124);

	/* reclaim_direct's error ends the allocation. */
	r.fail_with = -EINTR;
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), -EINTR);
	r.fail_with = 0;

	/* Empty the LRU; with the rest in use and nothing on the LRU,
	 * nothing can be reclaimed: ENOMEM either way. */
	while (r.nr)
		CHECK_EQ(fake_reclaim_direct(&r), 1);
	{
		struct sgx_epc_page *rest[124];
		uint8_t seen[128] = { 0 };
		int before = atomic_load(&r.reclaims);

		CHECK_EQ(alloc_all(epc, rest, 124, seen, NULL), 124);
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), -ENOMEM);
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &page), -ENOMEM);
		CHECK_EQ(atomic_load(&r.reclaims), before);
		free_all(epc, rest, 124);
	}
	for (int i = 0; i < 4; i++)
		sgx_free_epc_page(epc, got[i]);
	sgx_epc_set_reclaimer(epc, NULL, NULL);
	CHECK_EQ(sgx_epc_nr_free(epc), 128);
	check_invariants(epc);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* Fills the EPC with pages on the fake LRU, so the next allocation with
 * reclaim must reclaim directly. */
static struct sgx_epc *full_with_lru(struct sgx_cpu *cpu, struct fake_reclaimer *r)
{
	struct sgx_epc *epc = page_cache(cpu, 0);
	struct sgx_epc_page *page;

	fake_init(r, epc);
	while (sgx_alloc_epc_page(epc, r, false, &page) == 0)
		fake_track(r, page);
	return epc;
}

static void empty_lru(struct sgx_epc *epc, struct fake_reclaimer *r)
{
	while (r->nr)
		CHECK_EQ(fake_reclaim_direct(r), 1);
	sgx_epc_set_reclaimer(epc, NULL, NULL);
	check_invariants(epc);
	sgx_epc_destroy(epc);
}

/* A caller waiting for EPC is told to stop by a flag: -EINTR before any
 * direct reclaim (the kernel's signal_pending() check in
 * sgx_alloc_epc_page()); with the flag clear it reclaims and gets a page. */
TEST(alloc_wait_stopped_by_flag)
{
	struct sgx_cpu *cpu = machine(64);
	struct fake_reclaimer r;
	struct sgx_epc *epc = full_with_lru(cpu, &r);
	atomic_bool stop = true;
	struct sgx_epc_stop how = { .flag = &stop };
	struct sgx_epc_page *page;

	CHECK_EQ(sgx_epc_thread_set_stop(&how), 0);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), -EINTR);
	CHECK_EQ(atomic_load(&r.reclaims), 0);
	/* Not waiting (no reclaim asked): the flag does not matter. */
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &page), -EBUSY);
	atomic_store(&stop, false);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), 0);
	CHECK_EQ(atomic_load(&r.reclaims), 1);
	sgx_free_epc_page(epc, page);
	/* A free page is had without waiting, flag or not. */
	atomic_store(&stop, true);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), 0);
	sgx_free_epc_page(epc, page);
	CHECK_EQ(sgx_epc_thread_set_stop(NULL), 0);
	CHECK_EQ(sgx_epc_thread_set_stop(&(struct sgx_epc_stop){ 0 }), -EINVAL);
	empty_lru(epc, &r);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* A signal pending for the thread and not blocked by the caller's own mask
 * stops the wait; one the caller blocks too does not.  The signal is kept
 * pending by blocking it around the call, as entering the kernel defers
 * it, and consumed at the end. */
TEST(alloc_wait_stopped_by_pending_signal)
{
	struct sgx_cpu *cpu = machine(64);
	struct fake_reclaimer r;
	struct sgx_epc *epc = full_with_lru(cpu, &r);
	struct sgx_epc_stop how = { .signals = true };
	struct sgx_epc_page *page;
	sigset_t usr1, old;
	int sig;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CHECK_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
	sigemptyset(&how.mask); /* outside the call the thread blocks nothing */
	CHECK_EQ(sgx_epc_thread_set_stop(&how), 0);
	/* Nothing pending: the wait reclaims. */
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), 0);
	CHECK_EQ(atomic_load(&r.reclaims), 1);
	fake_track(&r, page);
	CHECK_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), -EINTR);
	CHECK_EQ(atomic_load(&r.reclaims), 1);
	/* The caller blocks SIGUSR1 itself: pending but not deliverable, so
	 * not what signal_pending() sees. */
	how.mask = usr1;
	CHECK_EQ(sgx_epc_thread_set_stop(&how), 0);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), 0);
	CHECK_EQ(atomic_load(&r.reclaims), 2);
	fake_track(&r, page);
	CHECK_EQ(sigwait(&usr1, &sig), 0);
	CHECK_EQ(sig, SIGUSR1);
	CHECK_EQ(sgx_epc_thread_set_stop(NULL), 0);
	CHECK_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	empty_lru(epc, &r);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(reclaim_with_empty_lru_is_enomem)
{
	struct sgx_cpu *cpu = machine(64);
	struct sgx_epc *epc = page_cache(cpu, 0);
	struct sgx_epc_page *pages[64], *page;
	uint8_t seen[64] = { 0 };
	struct fake_reclaimer r;
	uint64_t n;

	fake_init(&r, epc);
	n = alloc_all(epc, pages, 64, seen, NULL);
	CHECK_EQ(n, 64);
	/* The pages are in use but not on the LRU: can_reclaim is false. */
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, true, &page), -ENOMEM);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &page), -ENOMEM);
	CHECK_EQ(atomic_load(&r.reclaims), 0);
	CHECK(!sgx_epc_should_reclaim(epc, SGX_NR_HIGH_PAGES));
	free_all(epc, pages, n);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(low_watermark_wakes_reclaimer)
{
	struct sgx_cpu *cpu = machine(256);
	struct sgx_epc *epc = page_cache(cpu, 4);
	struct sgx_epc_page *page;
	struct fake_reclaimer r;
	int i;

	fake_init(&r, epc);
	/* Far above the watermark: no wake-up. */
	for (i = 0; i < 200; i++) {
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &page), 0);
		fake_track(&r, page);
	}
	CHECK_EQ(atomic_load(&r.wakes), 0);
	CHECK(!sgx_epc_should_reclaim(epc, SGX_NR_LOW_PAGES));
	CHECK(sgx_epc_should_reclaim(epc, SGX_NR_HIGH_PAGES));
	/* Below 32 free: woken. */
	for (; i < 232; i++) {
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &page), 0);
		fake_track(&r, page);
	}
	CHECK_GT(atomic_load(&r.wakes), 0);
	CHECK(sgx_epc_should_reclaim(epc, SGX_NR_LOW_PAGES));
	while (r.nr)
		CHECK_EQ(fake_reclaim_direct(&r), 1);
	CHECK_EQ(sgx_epc_nr_free(epc), 256);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* ---- NUMA ---------------------------------------------------------------- */

static int page_nid(struct sgx_epc *epc, struct sgx_epc_page *page)
{
	struct sgx_epc_node_stats st;

	CHECK_EQ(sgx_epc_node_stats(epc, page->node, &st), 0);
	return st.nid;
}

/* Pinned to nid, the first want pages come from want_nid, then the rest. */
static void check_order(struct sgx_epc *epc, int pin, int first_nid, uint64_t first_count)
{
	uint64_t total = sgx_epc_nr_total(epc);
	struct sgx_epc_page **pages = calloc(total, sizeof(*pages));
	uint64_t n = 0;

	CHECK(pages != NULL);
	CHECK_EQ(sgx_epc_thread_set_node(epc, pin), 0);
	while (sgx_alloc_epc_page(epc, NULL, false, &pages[n]) == 0) {
		int nid = page_nid(epc, pages[n]);

		if (n < first_count)
			CHECK_MSG(nid == first_nid, "page %llu from node %d, want %d",
				  (unsigned long long)n, nid, first_nid);
		else
			CHECK_MSG(nid != first_nid, "page %llu from node %d after it ran out",
				  (unsigned long long)n, nid);
		n++;
	}
	CHECK_EQ(n, total);
	free_all(epc, pages, n);
	CHECK_EQ(sgx_epc_nr_free(epc), total);
	check_invariants(epc);
	free(pages);
}

TEST(local_node_first)
{
	static const uint64_t frames[4] = { 40, 24, 16, 8 };
	static const int nodes[4] = { 0, 1, 0, 1 };
	struct sgx_cpu *cpu = machine_sections(4, frames, nodes);
	struct sgx_epc *epc = page_cache(cpu, 8);
	struct sgx_epc_page *page;

	check_order(epc, 1, 1, 32);
	check_order(epc, 0, 0, 56);
	/* Node 7 has no EPC: the next id with some, wrapping, is 0. */
	check_order(epc, 7, 0, 56);

	/* Unpinned: the host node of the CPU the thread runs on. */
	CHECK_EQ(sgx_epc_thread_set_node(epc, -1), 0);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &page), 0);
	CHECK_EQ(page->node, sgx_epc_thread_node(epc));
	sgx_free_epc_page(epc, page);
	check_invariants(epc);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(local_node_falls_forward)
{
	static const uint64_t frames[2] = { 16, 16 };
	static const int nodes[2] = { 1, 4 };
	struct sgx_cpu *cpu = machine_sections(2, frames, nodes);
	struct sgx_epc *epc = page_cache(cpu, 4);

	/* next_node_in(2) over {1, 4} is 4; next_node_in(0) is 1. */
	check_order(epc, 2, 4, 16);
	check_order(epc, 0, 1, 16);
	check_order(epc, 4, 4, 16);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(interleave_spreads_over_nodes)
{
	static const uint64_t frames[2] = { 64, 64 };
	static const int nodes[2] = { 0, 1 };
	struct sgx_cpu *cpu = machine_sections(2, frames, nodes);
	struct sgx_epc_config cfg;
	struct sgx_epc *epc;
	struct sgx_epc_page *pages[16];
	int per_node[2] = { 0, 0 };

	sgx_epc_config_default(&cfg);
	cfg.numa_policy = SGX_EPC_NUMA_INTERLEAVE;
	cfg.tcache_pages = 4;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), 0);
	for (int i = 0; i < 16; i++) {
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &pages[i]), 0);
		per_node[pages[i]->node]++;
	}
	CHECK_EQ(per_node[0], 8);
	CHECK_EQ(per_node[1], 8);
	free_all(epc, pages, 16);
	check_invariants(epc);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* ---- Thread caches ------------------------------------------------------- */

struct one_shot {
	struct sgx_epc *epc;
	pthread_barrier_t *hold; /* if set, wait here twice before exiting */
	struct sgx_epc *after; /* if set, used once more after the waits */
	struct sgx_epc_page *page;
};

/* Allocates and frees one page (filling its cache), optionally waits. */
static void *one_shot_thread(void *arg)
{
	struct one_shot *o = arg;
	struct sgx_epc_page *page;

	CHECK_EQ(sgx_alloc_epc_page(o->epc, o, false, &page), 0);
	o->page = page;
	sgx_free_epc_page(o->epc, page);
	if (o->hold) {
		pthread_barrier_wait(o->hold);
		pthread_barrier_wait(o->hold);
	}
	if (o->after) {
		CHECK_EQ(sgx_alloc_epc_page(o->after, o, false, &page), 0);
		CHECK(sgx_epc_page_from_addr(o->after, page->addr) == page);
		sgx_free_epc_page(o->after, page);
	}
	return NULL;
}

static uint64_t cached(struct sgx_epc *epc)
{
	struct sgx_epc_node_stats st;
	uint64_t n = 0;

	for (unsigned int i = 0; i < sgx_epc_nr_nodes(epc); i++) {
		CHECK_EQ(sgx_epc_node_stats(epc, i, &st), 0);
		n += st.cached;
	}
	return n;
}

TEST(thread_exit_flushes_cache)
{
	struct sgx_cpu *cpu = machine(256);
	struct sgx_epc *epc = page_cache(cpu, 16);
	pthread_barrier_t hold;
	struct one_shot o = { .epc = epc, .hold = &hold };
	pthread_t t;

	pthread_barrier_init(&hold, NULL, 2);
	CHECK_EQ(pthread_create(&t, NULL, one_shot_thread, &o), 0);
	pthread_barrier_wait(&hold);
	/* The thread's cache holds a batch; they still count as free. */
	CHECK_EQ(cached(epc), 8);
	CHECK_EQ(sgx_epc_nr_free(epc), 256);
	check_invariants(epc);
	pthread_barrier_wait(&hold);
	pthread_join(t, NULL);
	CHECK_EQ(cached(epc), 0);
	CHECK_EQ(sgx_epc_nr_free(epc), 256);
	check_invariants(epc);
	pthread_barrier_destroy(&hold);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(pages_in_other_caches_are_stolen)
{
	struct sgx_cpu *cpu = machine(64);
	struct sgx_epc *epc = page_cache(cpu, 32);
	struct sgx_epc_page *pages[64];
	uint8_t seen[64] = { 0 };
	pthread_barrier_t hold;
	struct one_shot o = { .epc = epc, .hold = &hold };
	pthread_t t;

	pthread_barrier_init(&hold, NULL, 2);
	CHECK_EQ(pthread_create(&t, NULL, one_shot_thread, &o), 0);
	pthread_barrier_wait(&hold);
	CHECK_EQ(cached(epc), 16);
	/* The other thread is alive and holds 16 free pages: this thread still
	 * gets every frame. */
	CHECK_EQ(alloc_all(epc, pages, 64, seen, NULL), 64);
	CHECK_EQ(cached(epc), 0);
	free_all(epc, pages, 64);
	pthread_barrier_wait(&hold);
	pthread_join(t, NULL);
	CHECK_EQ(sgx_epc_nr_free(epc), 64);
	check_invariants(epc);
	pthread_barrier_destroy(&hold);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(destroy_takes_back_live_threads_caches)
{
	struct sgx_cpu *cpu = machine(256);
	struct sgx_epc *epc = page_cache(cpu, 16), *epc2;
	pthread_barrier_t hold;
	struct one_shot o = { .epc = epc, .hold = &hold };
	pthread_t t;

	pthread_barrier_init(&hold, NULL, 2);
	CHECK_EQ(pthread_create(&t, NULL, one_shot_thread, &o), 0);
	pthread_barrier_wait(&hold);
	CHECK_EQ(cached(epc), 8);
	/* Destroyed while the thread lives and caches pages (debug builds
	 * assert every page came back). */
	sgx_epc_destroy(epc);
	/* A new page cache over the same machine, maybe at the same address:
	 * the thread's old cache must not be taken for it. */
	epc2 = page_cache(cpu, 16);
	o.after = epc2;
	pthread_barrier_wait(&hold);
	pthread_join(t, NULL);
	o = (struct one_shot){ .epc = epc2 };
	CHECK_EQ(pthread_create(&t, NULL, one_shot_thread, &o), 0);
	pthread_join(t, NULL);
	CHECK_EQ(sgx_epc_nr_free(epc2), 256);
	check_invariants(epc2);
	pthread_barrier_destroy(&hold);
	sgx_epc_destroy(epc2);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

struct exit_race {
	struct sgx_epc *epc;
	atomic_int done;
};

/* Works, says so, and exits at once: its cache is flushed by its exit while
 * the page cache may be being destroyed. */
static void *exit_race_thread(void *arg)
{
	struct exit_race *x = arg;
	struct sgx_epc_page *pages[8];

	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 8; i++)
			CHECK_EQ(sgx_alloc_epc_page(x->epc, x, false, &pages[i]), 0);
		for (int i = 0; i < 8; i++)
			sgx_free_epc_page(x->epc, pages[i]);
	}
	atomic_fetch_add(&x->done, 1);
	return NULL;
}

TEST(destroy_races_thread_exits)
{
	struct sgx_cpu *cpu = machine(256);
	int rounds = harness_sanitized() ? 20 : 200;

	for (int r = 0; r < rounds; r++) {
		struct exit_race x = { .epc = page_cache(cpu, 16) };
		pthread_t t[4];

		for (int i = 0; i < 4; i++)
			CHECK_EQ(pthread_create(&t[i], NULL, exit_race_thread, &x), 0);
		while (atomic_load(&x.done) < 4)
			sched_yield();
		/* The threads are exiting now, or have. */
		sgx_epc_destroy(x.epc);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(many_page_caches_in_one_thread)
{
	struct sgx_cpu *cpu_a = machine(64), *cpu_b = machine(96);
	struct sgx_epc *a = page_cache(cpu_a, 4), *b = page_cache(cpu_b, 4);
	struct sgx_epc_page *pa[64], *pb[96];
	uint64_t na = 0, nb = 0;

	/* Interleaved calls on two page caches from one thread. */
	for (;;) {
		bool more = false;

		if (na < 64 && sgx_alloc_epc_page(a, &pa, false, &pa[na]) == 0) {
			CHECK(sgx_epc_page_from_addr(a, pa[na]->addr) == pa[na]);
			CHECK(sgx_epc_page_from_addr(b, pa[na]->addr) == NULL);
			na++;
			more = true;
		}
		if (nb < 96 && sgx_alloc_epc_page(b, &pb, false, &pb[nb]) == 0) {
			CHECK(sgx_epc_page_from_addr(b, pb[nb]->addr) == pb[nb]);
			nb++;
			more = true;
		}
		if (!more)
			break;
	}
	CHECK_EQ(na, 64);
	CHECK_EQ(nb, 96);
	CHECK_EQ(sgx_epc_nr_free(a), 0);
	CHECK_EQ(sgx_epc_nr_free(b), 0);
	free_all(a, pa, na);
	free_all(b, pb, nb);
	CHECK_EQ(sgx_epc_nr_free(a), 64);
	CHECK_EQ(sgx_epc_nr_free(b), 96);
	sgx_epc_destroy(a);

	/* Create and destroy many in a row: the old caches are dropped. */
	for (int i = 0; i < 50; i++) {
		struct sgx_epc *c = page_cache(cpu_a, 4);
		struct sgx_epc_page *page;

		CHECK_EQ(sgx_alloc_epc_page(c, NULL, false, &page), 0);
		CHECK_EQ(sgx_alloc_epc_page(b, NULL, false, &pb[0]), 0);
		sgx_free_epc_page(c, page);
		sgx_free_epc_page(b, pb[0]);
		CHECK_EQ(sgx_epc_nr_free(c), 64);
		sgx_epc_destroy(c);
	}
	CHECK_EQ(sgx_epc_nr_free(b), 96);
	check_invariants(b);
	sgx_epc_destroy(b);
	sgx_cpu_destroy(cpu_a);
	sgx_cpu_destroy(cpu_b);
	no_leaks();
}

/* ---- Memory failure ------------------------------------------------------ */

TEST(poison_free_cached_and_in_use)
{
	struct sgx_cpu *cpu = machine(128);
	struct sgx_epc *epc = page_cache(cpu, 8);
	struct sgx_epc_page *in_use, *cached_page, *listed, *pages[128];
	struct sgx_epc_node_stats st;
	uint8_t seen[128] = { 0 };
	uint64_t n;

	/* in_use stays allocated; cached_page is freed into this thread's
	 * cache; listed is the last frame, still on the node list. */
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &in_use), 0);
	CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &cached_page), 0);
	sgx_free_epc_page(epc, cached_page);
	listed = sgx_epc_page_from_addr(epc, sgx_cpu_frame_addr(cpu, 127));
	CHECK(listed != in_use && listed != cached_page);
	CHECK_EQ(sgx_epc_nr_free(epc), 127);

	CHECK_EQ(sgx_epc_poison(epc, listed), 0);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 1);
	CHECK_EQ(sgx_epc_nr_free(epc), 126);
	CHECK(sgx_epc_page_poisoned(listed));
	check_invariants(epc);

	CHECK_EQ(sgx_epc_poison(epc, cached_page), 0);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 2);
	CHECK_EQ(sgx_epc_nr_free(epc), 125);
	check_invariants(epc);

	/* In use: marked, the machine checks on the frame, quarantined only
	 * when the owner gives it back. */
	CHECK(!sgx_epc_page_poisoned(in_use));
	CHECK_EQ(sgx_epc_poison(epc, in_use), 0);
	CHECK(sgx_epc_page_poisoned(in_use));
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 2);
	CHECK_EQ(sgx_epc_node_stats(epc, 0, &st), 0);
	CHECK_EQ(st.poison_pending, 1);
	CHECK_EQ(st.in_use, 1);
	check_invariants(epc);
	CHECK_SGX(encls_eremove(cpu, in_use->addr), MC);
	sgx_free_epc_page(epc, in_use);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 3);
	CHECK_EQ(sgx_epc_node_stats(epc, 0, &st), 0);
	CHECK_EQ(st.poison_pending, 0);
	CHECK_EQ(st.poisoned, 3);
	CHECK_EQ(st.in_use, 0);
	check_invariants(epc);

	/* Twice: nothing more. */
	CHECK_EQ(sgx_epc_poison(epc, listed), 0);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 3);

	/* None of them is ever handed out again. */
	n = alloc_all(epc, pages, 128, seen, NULL);
	CHECK_EQ(n, 125);
	for (uint64_t i = 0; i < n; i++)
		CHECK(pages[i] != listed && pages[i] != cached_page && pages[i] != in_use);
	free_all(epc, pages, n);
	CHECK_EQ(sgx_epc_nr_free(epc), 125);
	check_invariants(epc);

	CHECK_EQ(sgx_epc_poison(epc, NULL), -EINVAL);
	CHECK_EQ(sgx_epc_poison(epc, (struct sgx_epc_page *)((char *)listed + 1)), -EINVAL);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(poison_page_in_another_threads_cache)
{
	struct sgx_cpu *cpu = machine(128);
	struct sgx_epc *epc = page_cache(cpu, 8);
	pthread_barrier_t hold;
	struct one_shot o = { .epc = epc, .hold = &hold };
	struct sgx_epc_page *pages[128];
	uint8_t seen[128] = { 0 };
	pthread_t t;
	uint64_t n;

	pthread_barrier_init(&hold, NULL, 2);
	CHECK_EQ(pthread_create(&t, NULL, one_shot_thread, &o), 0);
	pthread_barrier_wait(&hold);
	/* o.page sits in the other thread's cache. */
	CHECK_EQ(cached(epc), 4);
	CHECK_EQ(sgx_epc_poison(epc, o.page), 0);
	CHECK_EQ(cached(epc), 3);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 1);
	CHECK_EQ(sgx_epc_nr_free(epc), 127);
	check_invariants(epc);
	n = alloc_all(epc, pages, 128, seen, NULL);
	CHECK_EQ(n, 127);
	for (uint64_t i = 0; i < n; i++)
		CHECK(pages[i] != o.page);
	free_all(epc, pages, n);
	pthread_barrier_wait(&hold);
	pthread_join(t, NULL);
	CHECK_EQ(sgx_epc_nr_free(epc), 127);
	check_invariants(epc);
	pthread_barrier_destroy(&hold);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* ---- Sanitization -------------------------------------------------------- */

#define ENCL_BASE 0x7f0000000000ULL

static void *scratch_page(void)
{
	void *p = NULL;

	CHECK_EQ(posix_memalign(&p, 4096, 4096), 0);
	memset(p, 0, 4096);
	return p;
}

static void ecreate_at(struct sgx_cpu *cpu, uint64_t frame, uint64_t base)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = { 0 };
	struct sgx_secs *secs = scratch_page();

	secs->size = 64 * 4096;
	secs->base = base;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	secs->xfrm = SGX_XFRM_LEGACY;
	pginfo.contents = (uintptr_t)secs;
	pginfo.metadata = (uintptr_t)&secinfo;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, sgx_cpu_frame_addr(cpu, frame)), 0);
	free(secs);
}

static void eadd_at(struct sgx_cpu *cpu, uint64_t secs_frame, uint64_t frame, uint64_t linaddr)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R |
						SGX_SECINFO_W };
	struct sgx_pageinfo pginfo = { 0 };
	void *src = scratch_page();

	pginfo.addr = linaddr;
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	pginfo.secs = (uintptr_t)sgx_cpu_frame_addr(cpu, secs_frame);
	CHECK_SGX(encls_eadd(cpu, &pginfo, sgx_cpu_frame_addr(cpu, frame)), 0);
	free(src);
}

/* Two enclaves and a VA page, SECS pages before their children so the
 * first pass meets SGX_CHILD_PRESENT, as after a kexec. */
static uint64_t build_leftovers(struct sgx_cpu *cpu)
{
	ecreate_at(cpu, 0, ENCL_BASE);
	for (uint64_t i = 0; i < 10; i++)
		eadd_at(cpu, 0, 10 + i, ENCL_BASE + i * 4096);
	ecreate_at(cpu, 5, ENCL_BASE + (1ULL << 30));
	for (uint64_t i = 0; i < 5; i++)
		eadd_at(cpu, 5, 40 + 3 * i, ENCL_BASE + (1ULL << 30) + i * 4096);
	CHECK_SGX(encls_epa(cpu, sgx_cpu_frame_addr(cpu, 60)), 0);
	return 2 + 10 + 5 + 1;
}

TEST(sanitize_machine_with_enclaves)
{
	struct sgx_cpu *cpu = machine(128);
	struct sgx_epc *epc;
	struct sgx_epc_page *pages[128];
	uint8_t seen[128] = { 0 };
	struct sgx_epcm_info info;
	uint64_t built = build_leftovers(cpu);

	CHECK_EQ(sgx_cpu_nr_valid(cpu), built);
	CHECK_EQ(sgx_cpu_epcm_info(cpu, sgx_cpu_frame_addr(cpu, 0), &info), 0);
	CHECK(info.valid && info.type == SGX_PAGE_TYPE_SECS);
	epc = page_cache(cpu, 0);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	CHECK_EQ(sgx_epc_nr_free(epc), 128);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 0);
	check_invariants(epc);
	CHECK_EQ(alloc_all(epc, pages, 128, seen, NULL), 128);
	free_all(epc, pages, 128);
	sgx_epc_destroy(epc);

	/* Again over the same machine, now clean (a second kexec). */
	epc = page_cache(cpu, 0);
	CHECK_EQ(sgx_epc_nr_free(epc), 128);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(sanitize_quarantines_poisoned_frames)
{
	struct sgx_cpu *cpu = machine(64);
	struct sgx_epc *epc;
	struct sgx_epc_page *pages[64];
	uint8_t seen[64] = { 0 };
	void *bad = sgx_cpu_frame_addr(cpu, 33);
	uint64_t n;

	build_leftovers(cpu);
	/* A poisoned free frame and a poisoned page of the enclave whose
	 * SECS is frame 0: that SECS keeps a child forever, so it is
	 * quarantined with it. */
	CHECK_EQ(sgx_cpu_poison(cpu, bad), 0);
	CHECK_EQ(sgx_cpu_poison(cpu, sgx_cpu_frame_addr(cpu, 12)), 0);
	epc = page_cache(cpu, 0);
	CHECK_EQ(sgx_epc_nr_poisoned(epc), 3);
	CHECK_EQ(sgx_epc_nr_free(epc), 61);
	CHECK(sgx_epc_page_poisoned(sgx_epc_page_from_addr(epc, bad)));
	CHECK(sgx_epc_page_poisoned(sgx_epc_page_from_addr(epc, sgx_cpu_frame_addr(cpu, 0))));
	check_invariants(epc);
	n = alloc_all(epc, pages, 64, seen, NULL);
	CHECK_EQ(n, 61);
	CHECK(!seen[33] && !seen[12] && !seen[0]);
	free_all(epc, pages, n);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* ---- Threads ------------------------------------------------------------- */

#define STRESS_THREADS 4
#define STRESS_HOLD 160

struct stress {
	struct sgx_epc *epc;
	struct sgx_cpu *cpu;
	uint64_t seed;
	uint64_t iterations;
	_Atomic int *holder; /* frame -> 1 + thread index, 0 when free */
	atomic_bool stop;
	atomic_int poisoned;
};

struct stress_thread {
	struct stress *s;
	int index;
	uint64_t allocs, failures;
};

static void *stress_worker(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;
	struct sgx_epc_page *held[STRESS_HOLD];
	unsigned int nr = 0;
	uint64_t rng = s->seed * 0x9E3779B97F4A7C15ULL + t->index + 1;

	/* Threads on different nodes when the machine has two. */
	if (sgx_epc_nr_nodes(s->epc) > 1)
		CHECK_EQ(sgx_epc_thread_set_node(s->epc, t->index % 2), 0);
	for (uint64_t i = 0; i < s->iterations; i++) {
		uint64_t r = harness_rand(&rng);
		bool do_alloc = nr == 0 || (nr < STRESS_HOLD && (r & 3) != 0);

		if (do_alloc) {
			struct sgx_epc_page *page;
			int ret = sgx_alloc_epc_page(s->epc, t, false, &page);
			int64_t f;
			int prev;

			if (ret) {
				CHECK_EQ(ret, -ENOMEM);
				t->failures++;
				do_alloc = false;
			} else {
				f = sgx_cpu_frame_index(s->cpu, page->addr);
				CHECK_GE(f, 0);
				prev = atomic_exchange(&s->holder[f], t->index + 1);
				CHECK_MSG(prev == 0, "frame %lld handed to thread %d while thread %d holds it",
					  (long long)f, t->index, prev - 1);
				CHECK(page->owner == t);
				held[nr++] = page;
				t->allocs++;
			}
		}
		if (!do_alloc && nr) {
			unsigned int k = (unsigned int)((r >> 8) % nr);
			struct sgx_epc_page *page = held[k];
			int64_t f = sgx_cpu_frame_index(s->cpu, page->addr);
			int prev;

			held[k] = held[--nr];
			CHECK(page->owner == t);
			prev = atomic_exchange(&s->holder[f], 0);
			CHECK_EQ(prev, t->index + 1);
			if (sgx_epc_page_poisoned(page))
				CHECK_SGX(encls_eremove(s->cpu, page->addr), MC);
			sgx_free_epc_page(s->epc, page);
		}
	}
	while (nr) {
		struct sgx_epc_page *page = held[--nr];
		int64_t f = sgx_cpu_frame_index(s->cpu, page->addr);

		CHECK_EQ(atomic_exchange(&s->holder[f], 0), t->index + 1);
		sgx_free_epc_page(s->epc, page);
	}
	return NULL;
}

/* Counts, checks invariants and poisons random frames while workers run. */
static void *stress_observer(void *arg)
{
	struct stress *s = arg;
	uint64_t rng = s->seed ^ 0x5555;
	uint64_t total = sgx_epc_nr_total(s->epc);
	uint64_t done[8];
	int nr_done = 0;

	while (!atomic_load(&s->stop)) {
		uint64_t r = harness_rand(&rng);

		CHECK_LE(sgx_epc_nr_free(s->epc), total);
		if ((r & 7) == 0)
			check_invariants(s->epc);
		if ((r & 31) == 1 && nr_done < 8) {
			uint64_t f = (r >> 16) % total;
			bool again = false;

			for (int i = 0; i < nr_done; i++)
				again |= done[i] == f;
			if (!again) {
				void *a = sgx_cpu_frame_addr(s->cpu, f);

				CHECK_EQ(sgx_epc_poison(s->epc, sgx_epc_page_from_addr(s->epc, a)), 0);
				done[nr_done++] = f;
				atomic_fetch_add(&s->poisoned, 1);
			}
		}
		sched_yield();
	}
	return NULL;
}

static void stress(struct sgx_cpu *cpu, unsigned int tcache, bool observe)
{
	struct stress s = { 0 };
	struct stress_thread t[STRESS_THREADS];
	pthread_t tids[STRESS_THREADS], obs;
	uint64_t total, allocs = 0;

	s.cpu = cpu;
	s.epc = page_cache(cpu, tcache);
	s.seed = harness_seed(0x5eed);
	s.iterations = harness_sanitized() ? 20000 : 200000;
	total = sgx_epc_nr_total(s.epc);
	s.holder = calloc(total, sizeof(*s.holder));
	CHECK(s.holder != NULL);
	if (observe)
		CHECK_EQ(pthread_create(&obs, NULL, stress_observer, &s), 0);
	for (int i = 0; i < STRESS_THREADS; i++) {
		t[i] = (struct stress_thread){ .s = &s, .index = i };
		CHECK_EQ(pthread_create(&tids[i], NULL, stress_worker, &t[i]), 0);
	}
	for (int i = 0; i < STRESS_THREADS; i++) {
		pthread_join(tids[i], NULL);
		allocs += t[i].allocs;
	}
	atomic_store(&s.stop, true);
	if (observe)
		pthread_join(obs, NULL);
	CHECK_GT(allocs, s.iterations);
	for (uint64_t f = 0; f < total; f++)
		CHECK_EQ(atomic_load(&s.holder[f]), 0);
	/* Every page is back: free or quarantined. */
	CHECK_EQ(sgx_epc_nr_free(s.epc) + sgx_epc_nr_poisoned(s.epc), total);
	CHECK_EQ(sgx_epc_nr_poisoned(s.epc), atomic_load(&s.poisoned));
	check_invariants(s.epc);
	free(s.holder);
	sgx_epc_destroy(s.epc);
}

TEST(threads_random_no_page_twice)
{
	/* 4 x 160 held pages over 512 frames: exhaustion and stealing. */
	struct sgx_cpu *cpu = machine(512);

	stress(cpu, 16, false);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

TEST(threads_two_nodes_with_poison_and_checks)
{
	static const uint64_t frames[3] = { 200, 150, 100 };
	static const int nodes[3] = { 0, 1, 0 };
	struct sgx_cpu *cpu = machine_sections(3, frames, nodes);

	stress(cpu, 8, true);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

struct reclaim_stress {
	struct sgx_epc *epc;
	struct fake_reclaimer *r;
	uint64_t iterations;
};

/* Allocates with reclaim and tracks every page: allocation never fails,
 * the LRU gives pages back. */
static void *reclaim_worker(void *arg)
{
	struct reclaim_stress *rs = arg;

	for (uint64_t i = 0; i < rs->iterations; i++) {
		struct sgx_epc_page *page;

		CHECK_EQ(sgx_alloc_epc_page(rs->epc, rs->r, true, &page), 0);
		fake_track(rs->r, page);
	}
	return NULL;
}

TEST(threads_direct_reclaim)
{
	struct sgx_cpu *cpu = machine(128);
	struct sgx_epc *epc = page_cache(cpu, 8);
	struct fake_reclaimer r;
	struct reclaim_stress rs = { .epc = epc, .r = &r };
	pthread_t tids[STRESS_THREADS];

	fake_init(&r, epc);
	rs.iterations = harness_sanitized() ? 2000 : 20000;
	for (int i = 0; i < STRESS_THREADS; i++)
		CHECK_EQ(pthread_create(&tids[i], NULL, reclaim_worker, &rs), 0);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(tids[i], NULL);
	CHECK_GE(atomic_load(&r.reclaims), (int)(STRESS_THREADS * rs.iterations - 128));
	CHECK_GT(atomic_load(&r.wakes), 0);
	CHECK_EQ(r.nr + sgx_epc_nr_free(epc), 128);
	while (r.nr)
		CHECK_EQ(fake_reclaim_direct(&r), 1);
	CHECK_EQ(sgx_epc_nr_free(epc), 128);
	check_invariants(epc);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
	no_leaks();
}

/* ---- Benchmarks (smoke only; numbers come from `sgxemu bench epc`) ------- */

TEST(bench_functions_run)
{
	struct sgx_cpu *cpu = machine(1024);
	double ns = 0;

	CHECK_EQ(sgx_epc_bench_alloc(cpu, 1, 1000, &ns), 0);
	CHECK_GT(ns, 0);
	CHECK_EQ(sgx_epc_bench_alloc(cpu, 2, 1000, &ns), 0);
	CHECK_GT(ns, 0);
	CHECK_EQ(sgx_epc_bench_mutex_baseline(cpu, 2, 1000, &ns), 0);
	CHECK_GT(ns, 0);
	CHECK_EQ(sgx_epc_bench_alloc(cpu, 0, 1000, &ns), -EINVAL);
	CHECK_EQ(sgx_epc_bench_alloc(cpu, 1, 0, &ns), -EINVAL);
	CHECK_EQ(sgx_epc_bench_mutex_baseline(NULL, 1, 10, &ns), -EINVAL);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_cpu_destroy(cpu);
	no_leaks();
}
