/*
 * test_stress_reclaim.c: the reclaimer under load.  A seeded run builds
 * many initialized enclaves that together hold at least 8 times the EPC,
 * then worker threads read, write and partly rewrite random pages of them,
 * checking each page against a checksum the test keeps, while:
 *   - the reclaimer thread and direct reclaim write pages back and the
 *     owners' accesses fault them in;
 *   - a tracker thread enters and leaves the enclaves through their TCS
 *     pages, so EWB meets SGX_NOT_TRACKED and waits for threads to leave;
 *   - a churn thread builds, touches and releases extra enclaves, so
 *     enclaves are torn down while the reclaimer may hold them;
 *   - workers force write-backs of random pages, racing the reclaimer;
 *   - the main thread checks the core's invariants as it goes.
 * At the end every page holds what was last written to it, and after the
 * enclaves are released every frame is free, every charge returned, no VA
 * page left and no descriptor open.
 *
 * The work shrinks under sanitizers (the TSan build runs this test).
 * HARNESS_SEED changes the run.  Not a benchmark.
 */
#include <pthread.h>
#include <time.h>

#include "bench/bench.h"
#include "core_helpers.h"

#define PAGE SGX_PAGE_SIZE
#define NR_WORKERS 4
#define NR_TCS 2

struct shadow_page {
	pthread_mutex_t lock; /* serializes the test's use of the page */
	uint64_t sum; /* checksum of its contents */
};

struct stress {
	struct sgx_core *core;
	unsigned int nr_encls;
	uint64_t pages_per_encl;
	struct ch_encl *encls;
	struct shadow_page *shadow; /* nr_encls * pages_per_encl */
	uint64_t seed;
	uint64_t ops_per_worker;
	_Atomic bool stop;
	_Atomic uint64_t reads, writes, partials, evicts, enters;
	_Atomic int failed; /* first error a helper thread saw, 0 if none */
	char failure[256];
	pthread_mutex_t failure_lock;
};

static void stress_fail(struct stress *s, const char *fmt, uint64_t a, uint64_t b, long c)
{
	pthread_mutex_lock(&s->failure_lock);
	if (!s->failed) {
		snprintf(s->failure, sizeof(s->failure), fmt, a, b, c);
		s->failed = 1;
	}
	pthread_mutex_unlock(&s->failure_lock);
	atomic_store(&s->stop, true);
}

static void fill_random(uint8_t *buf, size_t len, uint64_t *rng)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = harness_rand(rng);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

struct worker_arg {
	struct stress *s;
	unsigned int id;
};

/* One operation on a random page, under the page's shadow lock. */
static void worker_op(struct stress *s, uint64_t *rng)
{
	unsigned int e = (unsigned int)(harness_rand(rng) % s->nr_encls);
	uint64_t p = harness_rand(rng) % s->pages_per_encl;
	struct shadow_page *sh = &s->shadow[e * s->pages_per_encl + p];
	struct sgx_encl *encl = s->encls[e].encl;
	uint64_t kind = harness_rand(rng) % 100;
	uint8_t buf[PAGE];
	int ret;

	if (kind < 3) {
		/* A forced write-back, racing the reclaimer. */
		ret = sgx_encl_evict(encl, p * PAGE);
		if (ret && ret != -EALREADY && ret != -EBUSY && ret != -EAGAIN)
			stress_fail(s, "evict of encl %" PRIu64 " page %" PRIu64 ": %ld", e, p, ret);
		atomic_fetch_add(&s->evicts, 1);
		return;
	}
	pthread_mutex_lock(&sh->lock);
	if (kind < 60 || kind >= 85) {
		ret = sgx_encl_read(encl, p * PAGE, buf, PAGE);
		if (ret)
			stress_fail(s, "read of encl %" PRIu64 " page %" PRIu64 ": %ld", e, p, ret);
		else if (ch_sum(buf, PAGE) != sh->sum)
			stress_fail(s, "encl %" PRIu64 " page %" PRIu64 " changed (%ld)", e, p, 0);
		if (!ret && kind >= 85) {
			/* Rewrite part of it. */
			uint64_t off = harness_rand(rng) % PAGE;
			uint64_t len = 1 + harness_rand(rng) % (PAGE - off);

			fill_random(buf + off, len, rng);
			ret = sgx_encl_write(encl, p * PAGE + off, buf + off, len);
			if (ret)
				stress_fail(s, "write of encl %" PRIu64 " page %" PRIu64 ": %ld", e, p,
					    ret);
			sh->sum = ch_sum(buf, PAGE);
			atomic_fetch_add(&s->partials, 1);
		} else {
			atomic_fetch_add(&s->reads, 1);
		}
	} else {
		fill_random(buf, PAGE, rng);
		ret = sgx_encl_write(encl, p * PAGE, buf, PAGE);
		if (ret)
			stress_fail(s, "write of encl %" PRIu64 " page %" PRIu64 ": %ld", e, p, ret);
		sh->sum = ch_sum(buf, PAGE);
		atomic_fetch_add(&s->writes, 1);
	}
	pthread_mutex_unlock(&sh->lock);
}

static void *worker_main(void *arg)
{
	struct worker_arg *w = arg;
	struct stress *s = w->s;
	uint64_t rng = s->seed ^ (0x1000193ULL * (w->id + 1));

	for (uint64_t i = 0; i < s->ops_per_worker && !atomic_load(&s->stop); i++)
		worker_op(s, &rng);
	return NULL;
}

/* Enters and leaves random enclaves, staying inside a little while. */
static void *tracker_main(void *arg)
{
	struct stress *s = arg;
	uint64_t rng = s->seed ^ 0x7ac4e7ULL;

	while (!atomic_load(&s->stop)) {
		struct ch_encl *e = &s->encls[harness_rand(&rng) % s->nr_encls];
		uint64_t tcs = ch_tcs_offset(e, harness_rand(&rng) % NR_TCS);
		struct sgx_cpu_thread t = { 0 };
		int ret = sgx_encl_enter(e->encl, tcs, &t);

		if (ret == 0) {
			nanosleep(&(struct timespec){ 0, 20000 }, NULL);
			sgx_encl_exit(e->encl, &t);
			atomic_fetch_add(&s->enters, 1);
		} else if (ret != -EAGAIN) {
			stress_fail(s, "enter at %" PRIu64 " of encl %" PRIu64 ": %ld", tcs,
				    (uint64_t)(e - s->encls), ret);
		}
		nanosleep(&(struct timespec){ 0, 50000 }, NULL);
	}
	return NULL;
}

/* Builds, touches and releases extra enclaves while the others run. */
static void *churn_main(void *arg)
{
	struct stress *s = arg;
	uint64_t rng = s->seed ^ 0xc4a2ULL;

	for (uint64_t round = 0; !atomic_load(&s->stop); round++) {
		struct ch_encl e;
		uint8_t buf[PAGE], want[PAGE];
		int ret = ch_build(s->core, 1000 + round, 24, 1, round % 2 == 0, &e);

		if (ret) {
			stress_fail(s, "churn build %" PRIu64 ": %" PRIu64 "%ld", round, 0, ret);
			break;
		}
		for (uint64_t i = 0; i < 24 && !ret; i++) {
			uint64_t p = harness_rand(&rng) % 24;

			ret = sgx_encl_read(e.encl, p * PAGE, buf, PAGE);
			ch_fill(want, e.tag, p, 0);
			if (!ret && memcmp(buf, want, PAGE))
				stress_fail(s, "churn enclave %" PRIu64 " page %" PRIu64 " changed%ld",
					    round, p, 0);
		}
		if (ret)
			stress_fail(s, "churn read %" PRIu64 ": %" PRIu64 "%ld", round, 0, ret);
		sgx_encl_release(e.encl);
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(stress_many_enclaves_8x_epc)
{
	const bool small = harness_sanitized();
	const uint64_t frames = small ? 128 : 256;
	int fds = ch_count_fds();
	struct sgx_core_config cfg;
	struct sgx_core_stats st;
	struct sgx_cpu *cpu;
	struct stress s;
	struct worker_arg wa[NR_WORKERS];
	pthread_t workers[NR_WORKERS], tracker, churn;
	uint64_t total, checks = 0;
	double t0 = now_s(), t_run;
	char why[256];

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.failure_lock, NULL);
	s.seed = harness_seed(0x5eed5eed12345ULL);
	s.nr_encls = small ? 8 : 16;
	s.pages_per_encl = (8 * frames + s.nr_encls - 1) / s.nr_encls + 8;
	s.ops_per_worker = small ? 5000 : 20000;
	total = s.nr_encls * s.pages_per_encl;
	CHECK_GE(total, 8 * frames);

	cpu = ch_machine(frames);
	sgx_core_config_default(&cfg);
	/* Room for every page written back and the PCMD pages: the limit is
	 * tested elsewhere; here it must not get in the way. */
	cfg.backing_limit = total + total / 16 + 256;
	cfg.ipi_wait_us = 5000;
	s.core = ch_core(cpu, &cfg);

	s.encls = calloc(s.nr_encls, sizeof(*s.encls));
	s.shadow = calloc(total, sizeof(*s.shadow));
	CHECK(s.encls && s.shadow);
	for (unsigned int e = 0; e < s.nr_encls; e++) {
		uint8_t buf[PAGE];

		CHECK_EQ(ch_build(s.core, e + 1, s.pages_per_encl, NR_TCS, true, &s.encls[e]), 0);
		for (uint64_t p = 0; p < s.pages_per_encl; p++) {
			struct shadow_page *sh = &s.shadow[e * s.pages_per_encl + p];

			pthread_mutex_init(&sh->lock, NULL);
			ch_fill(buf, s.encls[e].tag, p, 0);
			sh->sum = ch_sum(buf, PAGE);
		}
	}

	t_run = now_s();
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		wa[i].s = &s;
		wa[i].id = i;
		CHECK_EQ(pthread_create(&workers[i], NULL, worker_main, &wa[i]), 0);
	}
	CHECK_EQ(pthread_create(&tracker, NULL, tracker_main, &s), 0);
	CHECK_EQ(pthread_create(&churn, NULL, churn_main, &s), 0);
	/* Check the invariants while everything runs. */
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		while (pthread_tryjoin_np(workers[i], NULL) == EBUSY) {
			int ret = sgx_core_check(s.core, false, why, sizeof(why));

			CHECK_MSG(ret == 0, "seed %#" PRIx64 ": %s", s.seed, why);
			checks++;
			nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		}
	}
	t_run = now_s() - t_run;
	atomic_store(&s.stop, true);
	pthread_join(tracker, NULL);
	pthread_join(churn, NULL);
	CHECK_MSG(!s.failed, "seed %#" PRIx64 ": %s", s.seed, s.failure);

	/* Every page holds what was last written to it. */
	for (unsigned int e = 0; e < s.nr_encls; e++) {
		for (uint64_t p = 0; p < s.pages_per_encl; p++) {
			uint8_t buf[PAGE];

			CHECK_EQ(sgx_encl_read(s.encls[e].encl, p * PAGE, buf, PAGE), 0);
			CHECK_MSG(ch_sum(buf, PAGE) == s.shadow[e * s.pages_per_encl + p].sum,
				  "seed %#" PRIx64 ": encl %u page %" PRIu64 " changed", s.seed, e, p);
		}
	}

	CHECK_EQ(sgx_core_stats(s.core, &st), 0);
	printf("  seed %#" PRIx64 ": %" PRIu64 " frames, %u enclaves x %" PRIu64
	       " pages (%.1fx EPC); %.2fs of load, %.2fs in all\n",
	       s.seed, frames, s.nr_encls, s.pages_per_encl, (double)total / (double)frames, t_run,
	       now_s() - t0);
	printf("  ops: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " partial, %" PRIu64
	       " evicts, %" PRIu64 " enters; %" PRIu64 " invariant checks\n",
	       atomic_load(&s.reads), atomic_load(&s.writes), atomic_load(&s.partials),
	       atomic_load(&s.evicts), atomic_load(&s.enters), checks);
	printf("  core: %" PRIu64 " written back, %" PRIu64 " loaded, %" PRIu64
	       " SECS out, %" PRIu64 " SECS in; EWB retries %" PRIu64 " etrack, %" PRIu64
	       " ipi, %" PRIu64 " gave up; age %" PRIu64 " hit / %" PRIu64 " miss; %" PRIu64
	       " wakeups, %" PRIu64 " direct; free now %" PRIu64 "\n",
	       st.pages_written_back, st.pages_loaded, st.secs_written_back, st.secs_loaded,
	       st.ewb_retry_etrack, st.ewb_retry_ipi, st.ewb_gave_up, st.age_hits, st.age_misses,
	       st.reclaimer_wakeups, st.direct_reclaims, st.epc_free);
	CHECK_EQ(st.load_failures, 0);
	CHECK_EQ(st.ewb_failures, 0);
	CHECK_GT(st.pages_written_back, total);
	CHECK_GT(st.pages_loaded, total / 2);
	CHECK_GT(st.reclaimer_wakeups, 0);
	CHECK_GT(st.age_hits, 0);
	CHECK_GT(atomic_load(&s.enters), 0);
	CHECK_LE(st.backing_charged, cfg.backing_limit);

	for (unsigned int e = 0; e < s.nr_encls; e++)
		sgx_encl_release(s.encls[e].encl);
	ch_check_empty(s.core, 0);
	CHECK_EQ(ch_count_fds(), fds);
	for (uint64_t i = 0; i < total; i++)
		pthread_mutex_destroy(&s.shadow[i].lock);
	free(s.shadow);
	free(s.encls);
	sgx_core_destroy(s.core);
	sgx_cpu_destroy(cpu);
	pthread_mutex_destroy(&s.failure_lock);
}

/* The benchmark function runs and reports a rate. */
TEST(bench_reclaim_smoke)
{
	struct sgx_cpu *cpu = ch_machine(128);
	double rate = 0;

	CHECK_EQ(sgx_bench_reclaim(cpu, 64, 1, &rate), -EINVAL); /* smaller than 2x EPC */
	CHECK_EQ(sgx_bench_reclaim(cpu, 512, 2, &rate), 0);
	CHECK_GT(rate, 0);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_cpu_destroy(cpu);
}
