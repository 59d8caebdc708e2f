/*
 * test_reclaim_freelists.c: where the frames the reclaimer frees go, under
 * the streaming workload of `sgxemu bench epc` (one owner touching, in
 * order, an enclave several times the EPC, so nearly every touch loads a
 * written-back page while the reclaimer writes the oldest out).
 *
 * The kernel's reclaimer frees to the node lists (sgx_free_epc_page()), and
 * its wake-up and stop tests (sgx_should_reclaim()) read one count.  Here
 * the page cache also keeps per-thread caches; these tests check that the
 * reclaimer's frees still reach the node lists, so that the owner refills
 * its cache from them instead of stealing page by page from another
 * thread's cache under the registry lock, and that a thread that no longer
 * allocates gives its cache back.  The counters are the core's statistics
 * (sgx_core_stats(): epc_allocs, epc_steals, epc_global_locks,
 * epc_listed).  The reclaimer thread runs, so the TSan build runs these.
 * Not a benchmark: the bounds are counts, not times.
 */
#include <pthread.h>
#include <unistd.h>

#include "core_helpers.h"

#define PAGE SGX_PAGE_SIZE

/* Touches every page of e once, in order, writing (i + pass). */
static void stream(struct ch_encl *e, uint64_t pages, uint64_t pass)
{
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t v = i + pass;

		CHECK_EQ(sgx_encl_write(e->encl, i * PAGE, &v, sizeof(v)), 0);
	}
}

/* The measured failure: on 4,096 frames, 16,384 loads stole 1,554 pages
 * and left 0 of 70 free pages on a node list.  Smaller here, same shape. */
TEST(streaming_reclaim_frees_to_node_lists)
{
	uint64_t frames = harness_sanitized() ? 512 : 1024;
	uint64_t pages = 4 * frames;
	struct sgx_cpu *cpu = ch_machine(frames);
	struct sgx_core_config cfg;
	struct sgx_core_stats before, after;
	struct sgx_core *core;
	struct ch_encl e;
	uint64_t allocs, steals, locks;
	int fds = ch_count_fds();

	sgx_core_config_default(&cfg);
	cfg.backing_limit = pages + pages / 32 + 64;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build(core, 1, pages, 0, false, &e), 0);
	stream(&e, pages, 0); /* the first pass settles the LRU's order */
	CHECK_EQ(sgx_core_stats(core, &before), 0);
	stream(&e, pages, 1);
	CHECK_EQ(sgx_core_stats(core, &after), 0);
	allocs = after.epc_allocs - before.epc_allocs;
	steals = after.epc_steals - before.epc_steals;
	locks = after.epc_global_locks - before.epc_global_locks;
	printf("  %" PRIu64 " allocations, %" PRIu64 " steals, %" PRIu64
	       " registry lock takes, %" PRIu64 " reclaim lock takes to wake, %" PRIu64
	       " wake-ups, %" PRIu64 " direct reclaims; free %" PRIu64 ", on node lists %" PRIu64
	       "\n",
	       allocs, steals, locks, after.epc_wake_locks - before.epc_wake_locks,
	       after.reclaimer_wakeups - before.reclaimer_wakeups,
	       after.direct_reclaims - before.direct_reclaims, after.epc_free, after.epc_listed);
	/* Nearly every touch of the pass loaded a page. */
	CHECK_GE(allocs, pages / 2);
	/* At most one steal per 1000 allocations (the bench's target). */
	CHECK_LE(steals * 1000, allocs);
	/* And one machine-wide lock per 1000. */
	CHECK_LE(locks * 1000, allocs);
	/* The free pages are where any thread finds them: on the node lists,
	 * but for what the owner's own cache holds (a thread cache holds
	 * at most frames / 64 pages here). */
	CHECK_LE(after.epc_free, after.epc_listed + frames / 64);

	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/*
 * A thread that frees pages it did not allocate (the reclaimer's case),
 * then stays alive, holding whatever it cached, until the test has looked.
 * alloc_first makes it allocate (and free) one page before.
 */
struct freeing_thread {
	struct sgx_epc *epc;
	struct sgx_epc_page **pages;
	unsigned int n;
	bool alloc_first;
	pthread_mutex_t lock; /* guards done, leave */
	pthread_cond_t cond;
	bool done, leave;
};

static void *free_them(void *arg)
{
	struct freeing_thread *t = arg;
	struct sgx_epc_page *page;

	if (t->alloc_first) {
		CHECK_EQ(sgx_alloc_epc_page(t->epc, NULL, false, &page), 0);
		sgx_free_epc_page(t->epc, page);
	}
	for (unsigned int i = 0; i < t->n; i++)
		sgx_free_epc_page(t->epc, t->pages[i]);
	pthread_mutex_lock(&t->lock);
	t->done = true;
	pthread_cond_broadcast(&t->cond);
	while (!t->leave)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Frees 64 of 256 pages in another thread; *st is read while it lives,
 * *mine before it starts (what this thread's cache holds). */
static void free_elsewhere(bool alloc_first, struct sgx_epc_stats *mine, struct sgx_epc_stats *st)
{
	struct sgx_cpu *cpu = ch_machine(256);
	struct sgx_epc_config cfg;
	struct sgx_epc_page *pages[64];
	struct freeing_thread t;
	struct sgx_epc *epc;
	pthread_t th;

	sgx_epc_config_default(&cfg);
	cfg.tcache_pages = 16;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), 0);
	for (unsigned int i = 0; i < 64; i++)
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &pages[i]), 0);
	CHECK_EQ(sgx_epc_stats(epc, mine), 0);
	memset(&t, 0, sizeof(t));
	t.epc = epc;
	t.pages = pages;
	t.n = 64;
	t.alloc_first = alloc_first;
	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.cond, NULL);
	CHECK_EQ(pthread_create(&th, NULL, free_them, &t), 0);
	pthread_mutex_lock(&t.lock);
	while (!t.done)
		pthread_cond_wait(&t.cond, &t.lock);
	pthread_mutex_unlock(&t.lock);
	CHECK_EQ(sgx_epc_stats(epc, st), 0);
	pthread_mutex_lock(&t.lock);
	t.leave = true;
	pthread_cond_broadcast(&t.cond);
	pthread_mutex_unlock(&t.lock);
	CHECK_EQ(pthread_join(th, NULL), 0);
	pthread_cond_destroy(&t.cond);
	pthread_mutex_destroy(&t.lock);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
}

/* A thread that does not allocate frees to the node list, as the kernel's
 * sgx_free_epc_page() does: the 64 pages are listed at once; only this
 * thread's cache (what its last refill left) is not. */
TEST(thread_that_does_not_allocate_frees_to_node_list)
{
	struct sgx_epc_stats mine, st;

	free_elsewhere(false, &mine, &st);
	printf("  listed %" PRIu64 ", cached %" PRIu64 " (this thread's %" PRIu64 ")\n",
	       st.listed, st.cached, mine.cached);
	CHECK_EQ(st.listed + st.cached, 256);
	CHECK_EQ(st.cached, mine.cached);
}

/* One that frees more than it allocated keeps no more than it took out:
 * the refill its one allocation made, not the 64 frees. */
TEST(frees_beyond_allocations_go_to_node_list)
{
	struct sgx_epc_stats mine, st;

	free_elsewhere(true, &mine, &st);
	printf("  listed %" PRIu64 ", cached %" PRIu64 " (this thread's %" PRIu64 ")\n",
	       st.listed, st.cached, mine.cached);
	CHECK_EQ(st.listed + st.cached, 256);
	CHECK_LE(st.cached, mine.cached + 8); /* one refill of 16 / 2 */
	CHECK_EQ(st.steals, 0);
}

/*
 * A thread that stopped allocating gives its cache back: the reclaimer's
 * stop test (sgx_epc_should_reclaim()) sweeps, at most every 50 ms, and a
 * cache whose thread was handed no page since the previous sweep goes to
 * the node lists.  Here another thread caches pages and then waits, and
 * this one stops allocating too: two sweeps apart, every free page is
 * listed.
 */
static void *cache_and_wait(void *arg)
{
	struct freeing_thread *t = arg;
	struct sgx_epc_page *page;

	CHECK_EQ(sgx_alloc_epc_page(t->epc, NULL, false, &page), 0);
	sgx_free_epc_page(t->epc, page);
	pthread_mutex_lock(&t->lock);
	t->done = true;
	pthread_cond_broadcast(&t->cond);
	while (!t->leave)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

TEST(idle_thread_caches_go_back_to_nodes)
{
	struct sgx_cpu *cpu = ch_machine(256);
	struct sgx_epc_config cfg;
	struct sgx_epc_stats st0, st;
	struct sgx_epc_page *pages[200];
	struct freeing_thread t;
	struct sgx_epc *epc;
	pthread_t th;

	sgx_epc_config_default(&cfg);
	cfg.tcache_pages = 16;
	CHECK_EQ(sgx_epc_create(cpu, &cfg, &epc), 0);
	memset(&t, 0, sizeof(t));
	t.epc = epc;
	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.cond, NULL);
	CHECK_EQ(pthread_create(&th, NULL, cache_and_wait, &t), 0);
	pthread_mutex_lock(&t.lock);
	while (!t.done)
		pthread_cond_wait(&t.cond, &t.lock);
	pthread_mutex_unlock(&t.lock);
	for (unsigned int i = 0; i < 200; i++)
		CHECK_EQ(sgx_alloc_epc_page(epc, NULL, false, &pages[i]), 0);
	CHECK_EQ(sgx_epc_stats(epc, &st0), 0);
	printf("  before: listed %" PRIu64 ", cached %" PRIu64 "\n", st0.listed, st0.cached);
	CHECK_GT(st0.cached, 0);
	/* Fewer than the high watermark listed: the stop test sweeps. */
	(void)sgx_epc_should_reclaim(epc, SGX_NR_HIGH_PAGES);
	usleep(60 * 1000);
	(void)sgx_epc_should_reclaim(epc, SGX_NR_HIGH_PAGES);
	CHECK_EQ(sgx_epc_stats(epc, &st), 0);
	printf("  after: listed %" PRIu64 ", cached %" PRIu64 "\n", st.listed, st.cached);
	CHECK_EQ(st.cached, 0);
	CHECK_EQ(st.listed, 256 - 200);

	pthread_mutex_lock(&t.lock);
	t.leave = true;
	pthread_cond_broadcast(&t.cond);
	pthread_mutex_unlock(&t.lock);
	CHECK_EQ(pthread_join(th, NULL), 0);
	for (unsigned int i = 0; i < 200; i++)
		sgx_free_epc_page(epc, pages[i]);
	pthread_cond_destroy(&t.cond);
	pthread_mutex_destroy(&t.lock);
	sgx_epc_destroy(epc);
	sgx_cpu_destroy(cpu);
}
