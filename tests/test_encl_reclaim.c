/*
 * test_encl_reclaim.c: the enclave calls of the SGX core one by one: what
 * create, add, init, read/write, enter and evict accept and refuse (and
 * that a refusal leaves nothing behind), the reclaimer's hooks (views
 * zapped when a page is aged and before it is written back, threads asked
 * to leave when EWB is not tracked), and a write-back that gives up while
 * a thread stays inside, leaving the page resident and blocked, then
 * succeeding once it has left.
 */
#include <pthread.h>
#include <time.h>

#include "core_helpers.h"

#define PAGE SGX_PAGE_SIZE

static struct sgx_core_config quiet_config(void)
{
	struct sgx_core_config cfg;

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true;
	return cfg;
}

static struct sgx_secs good_secs(uint64_t size)
{
	struct sgx_secs secs;

	memset(&secs, 0, sizeof(secs));
	secs.size = size;
	secs.base = size * 4;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_MODE64BIT;
	secs.xfrm = SGX_XFRM_LEGACY;
	return secs;
}

TEST(create_refusals_leave_nothing)
{
	struct sgx_core_config cfg = quiet_config();
	int fds = ch_count_fds();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_encl *encl = NULL;
	struct sgx_secs secs;

	secs = good_secs(3 * PAGE);
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), -EINVAL); /* not a power of 2 */
	secs = good_secs(PAGE);
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), -EINVAL); /* one page */
	secs = good_secs(1ULL << 40);
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), -EINVAL); /* past the maximum */
	secs = good_secs(4 * PAGE);
	secs.attributes = 0; /* the processor refuses 32-bit enclaves here */
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), -EIO);
	secs = good_secs(4 * PAGE);
	secs.base += PAGE; /* not aligned to the size */
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), -EIO);
	CHECK_EQ(sgx_encl_create(NULL, &secs, NULL, NULL, &encl), -EINVAL);
	CHECK(encl == NULL);
	ch_finish(core, cpu, fds);
}

TEST(add_and_init_refusals)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_secinfo secinfo;
	struct sgx_sigstruct sig;
	struct sgx_sign_params params;
	struct sgx_encl_stats es;
	struct ch_encl e;
	uint8_t page[PAGE], mr[32];
	int leaf = -1;

	CHECK_EQ(ch_build_ex(core, 1, 2, 1, 8 * PAGE, false, &e), 0);
	memset(page, 0x5c, sizeof(page));
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	CHECK_EQ(sgx_encl_add_page(e.encl, 0, page, &secinfo, 0), -EBUSY);
	CHECK_EQ(sgx_encl_add_page(e.encl, 5 * PAGE + 8, page, &secinfo, 0), -EINVAL);
	CHECK_EQ(sgx_encl_add_page(e.encl, 8 * PAGE, page, &secinfo, 0), -EINVAL);
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_W; /* W without R: EADD faults */
	CHECK_EQ(sgx_encl_add_page(e.encl, 5 * PAGE, page, &secinfo, 0), -EIO);
	/* An unaligned source is fine. */
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R;
	CHECK_EQ(sgx_encl_add_page(e.encl, 5 * PAGE, (uint8_t *)page + 0, &secinfo, 0x0003), 0);
	sgx_encl_stats(e.encl, &es);
	CHECK_EQ(es.pages, 4);
	CHECK_EQ(es.resident, 4);

	/* A SIGSTRUCT over another measurement: EINIT refuses. */
	memset(mr, 0x42, sizeof(mr));
	memset(&params, 0, sizeof(params));
	params.attributes = SGX_ATTR_MODE64BIT;
	params.attributes_mask = SGX_ATTR_MODE64BIT;
	params.xfrm = SGX_XFRM_LEGACY;
	params.xfrm_mask = SGX_XFRM_LEGACY;
	CHECK_EQ(sgx_sigstruct_sign(ch_key(), &params, mr, &sig), 0);
	CHECK_EQ(sgx_encl_init(e.encl, &sig, NULL, &leaf), -EPERM);
	CHECK_SGX(leaf, SGX_INVALID_MEASUREMENT);
	CHECK(!sgx_encl_initialized(e.encl));
	sgx_encl_release(e.encl);

	/* Initialized: no more pages, no second EINIT. */
	CHECK_EQ(ch_build(core, 2, 2, 1, true, &e), 0);
	CHECK(sgx_encl_initialized(e.encl));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R;
	CHECK_EQ(sgx_encl_add_page(e.encl, 3 * PAGE, page, &secinfo, 0), -EINVAL);
	CHECK_EQ(sgx_encl_init(e.encl, &sig, NULL, &leaf), -EINVAL);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

TEST(read_write_ranges)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct ch_encl e;
	uint8_t want[3 * PAGE], got[3 * PAGE], buf[100];

	CHECK_EQ(ch_build_ex(core, 3, 3, 0, 8 * PAGE, true, &e), 0);
	for (int i = 0; i < 3; i++)
		ch_fill(want + i * PAGE, e.tag, (uint64_t)i, 0);
	/* Across pages, some written back. */
	CHECK_EQ(sgx_encl_evict(e.encl, PAGE), 0);
	CHECK_EQ(sgx_encl_read(e.encl, 100, got, 2 * PAGE + 50), 0);
	CHECK_MEM(got, want + 100, 2 * PAGE + 50);
	memset(buf, 0x77, sizeof(buf));
	CHECK_EQ(sgx_encl_evict(e.encl, 2 * PAGE), 0);
	CHECK_EQ(sgx_encl_write(e.encl, 2 * PAGE - 50, buf, sizeof(buf)), 0);
	memcpy(want + 2 * PAGE - 50, buf, sizeof(buf));
	CHECK_EQ(sgx_encl_evict(e.encl, 2 * PAGE), 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 1 * PAGE), 0);
	CHECK_EQ(sgx_encl_read(e.encl, 0, got, 3 * PAGE), 0);
	CHECK_MEM(got, want, 3 * PAGE);
	/* Outside, or where nothing was added. */
	CHECK_EQ(sgx_encl_read(e.encl, 8 * PAGE - 10, buf, 11), -EINVAL);
	CHECK_EQ(sgx_encl_read(e.encl, UINT64_MAX - 5, buf, 10), -EINVAL);
	CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE, buf, 1), -EFAULT);
	CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE - 1, buf, 2), -EFAULT);
	CHECK_EQ(sgx_encl_read(e.encl, 0, buf, 0), 0);
	CHECK_EQ(sgx_encl_mark_young(e.encl, 4 * PAGE), -EFAULT);
	CHECK_EQ(sgx_encl_mark_young(e.encl, 0), 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* Entering an enclave that is not initialized, or from inside one, is
 * refused for good, not answered "try again": EENTER would never take it. */
TEST(enter_before_init_refused)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_cpu_thread t;
	struct ch_encl e;

	memset(&t, 0, sizeof(t));
	CHECK_EQ(ch_build(core, 40, 2, 1, false, &e), 0);
	CHECK_EQ(sgx_encl_enter(e.encl, ch_tcs_offset(&e, 0), &t), -EINVAL);
	CHECK(t.tcs == NULL);
	sgx_encl_release(e.encl);
	/* A thread inside already cannot enter again (EENTER in enclave mode
	 * is #GP), whichever TCS it names. */
	CHECK_EQ(ch_build(core, 41, 2, 2, true, &e), 0);
	CHECK_EQ(sgx_encl_enter(e.encl, ch_tcs_offset(&e, 0), &t), 0);
	CHECK_EQ(sgx_encl_enter(e.encl, ch_tcs_offset(&e, 1), &t), -EINVAL);
	CHECK_EQ(sgx_encl_enter(e.encl, ch_tcs_offset(&e, 0), &t), -EINVAL);
	sgx_encl_exit(e.encl, &t);
	CHECK(t.tcs == NULL);
	CHECK_EQ(sgx_encl_enter(e.encl, ch_tcs_offset(&e, 1), &t), 0);
	sgx_encl_exit(e.encl, &t);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* --- Hooks ---------------------------------------------------------------- */

struct hook_log {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int zap_age, zap_reclaim, kicks;
	uint64_t last_offset;
	bool leave; /* kick asks the thread inside to leave */
};

static void hook_zap(struct sgx_encl *encl, uint64_t offset, enum sgx_encl_zap_reason why,
		     void *ctx)
{
	struct hook_log *log = ctx;

	pthread_mutex_lock(&log->lock);
	if (why == SGX_ZAP_AGE)
		log->zap_age++;
	else
		log->zap_reclaim++;
	log->last_offset = offset;
	pthread_mutex_unlock(&log->lock);
}

static void hook_kick(struct sgx_encl *encl, void *ctx)
{
	struct hook_log *log = ctx;

	pthread_mutex_lock(&log->lock);
	log->kicks++;
	log->leave = true;
	pthread_cond_broadcast(&log->cond);
	pthread_mutex_unlock(&log->lock);
}

static const struct sgx_encl_ops hook_ops = {
	.zap = hook_zap,
	.kick = hook_kick,
};

TEST(zap_hook_on_age_and_reclaim)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct hook_log log = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct sgx_secinfo secinfo;
	struct sgx_core_stats st;
	struct sgx_encl *encl;
	struct sgx_secs secs = good_secs(4 * PAGE);
	uint8_t page[PAGE];
	int n;

	CHECK_EQ(sgx_encl_create(core, &secs, &hook_ops, &log, &encl), 0);
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	memset(page, 1, sizeof(page));
	for (uint64_t i = 0; i < 3; i++)
		CHECK_EQ(sgx_encl_add_page(encl, i * PAGE, page, &secinfo, 0), 0);
	/* Page 2 touched: young, the others old. */
	CHECK_EQ(sgx_encl_read(encl, 2 * PAGE, page, 8), 0);
	n = sgx_core_reclaim(core);
	CHECK_EQ(n, 2);
	CHECK_EQ(log.zap_age, 1);
	CHECK_EQ(log.zap_reclaim, 2);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.age_hits, 1);
	CHECK_EQ(st.age_misses, 2);
	/* Aged once, it goes the next time. */
	n = sgx_core_reclaim(core);
	CHECK_EQ(n, 1);
	CHECK_EQ(log.zap_reclaim, 3);
	CHECK_EQ(log.last_offset, 2 * PAGE);
	CHECK_EQ(sgx_core_reclaim(core), 0); /* nothing left on the LRU */
	sgx_encl_release(encl);
	ch_finish(core, cpu, -1);
}

/* The owner's hook context may go with sgx_encl_release(): a reclaimer
 * still holding the enclave calls no hook after the release returned.  The
 * first zap of a batch waits until the owner is releasing (and then a
 * while, or until the release returned); no zap may follow the release. */
struct release_log {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool releasing, released;
	unsigned int calls, after_release;
};

static void release_zap(struct sgx_encl *encl, uint64_t offset, enum sgx_encl_zap_reason why,
			void *ctx)
{
	struct release_log *log = ctx;
	struct timespec until;

	pthread_mutex_lock(&log->lock);
	if (log->released)
		log->after_release++;
	if (++log->calls == 1) {
		pthread_cond_broadcast(&log->cond);
		while (!log->releasing)
			pthread_cond_wait(&log->cond, &log->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!log->released &&
		       pthread_cond_timedwait(&log->cond, &log->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&log->lock);
}

static const struct sgx_encl_ops release_ops = { .zap = release_zap };

static void *reclaim_thread(void *arg)
{
	return (void *)(intptr_t)sgx_core_reclaim(arg);
}

TEST(no_hook_after_release)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct release_log log = { .lock = PTHREAD_MUTEX_INITIALIZER,
				   .cond = PTHREAD_COND_INITIALIZER };
	struct sgx_secinfo secinfo;
	struct sgx_secs secs = good_secs(8 * PAGE);
	struct sgx_encl *encl;
	uint8_t page[PAGE];
	pthread_t thr;
	void *freed;

	CHECK_EQ(sgx_encl_create(core, &secs, &release_ops, &log, &encl), 0);
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	memset(page, 1, sizeof(page));
	for (uint64_t i = 0; i < 4; i++)
		CHECK_EQ(sgx_encl_add_page(encl, i * PAGE, page, &secinfo, 0), 0);
	CHECK_EQ(pthread_create(&thr, NULL, reclaim_thread, core), 0);
	pthread_mutex_lock(&log.lock);
	while (log.calls == 0)
		pthread_cond_wait(&log.cond, &log.lock);
	log.releasing = true;
	pthread_cond_broadcast(&log.cond);
	pthread_mutex_unlock(&log.lock);
	sgx_encl_release(encl);
	pthread_mutex_lock(&log.lock);
	log.released = true;
	pthread_cond_broadcast(&log.cond);
	pthread_mutex_unlock(&log.lock);
	CHECK_EQ(pthread_join(thr, &freed), 0);
	CHECK_GE((intptr_t)freed, 0);
	CHECK_EQ(log.after_release, 0);
	CHECK_GE(log.calls, 1);
	ch_finish(core, cpu, -1);
}

struct inside_arg {
	struct sgx_encl *encl;
	uint64_t tcs;
	struct hook_log *log;
	bool wait_for_kick; /* else stay until told by the test */
	_Atomic int state; /* 1 inside, 2 left */
	_Atomic bool release;
};

static void *inside_main(void *p)
{
	struct inside_arg *a = p;
	struct sgx_cpu_thread t = { 0 };

	CHECK_EQ(sgx_encl_enter(a->encl, a->tcs, &t), 0);
	atomic_store(&a->state, 1);
	pthread_mutex_lock(&a->log->lock);
	while (a->wait_for_kick ? !a->log->leave : !atomic_load(&a->release)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->log->cond, &a->log->lock, &ts);
	}
	pthread_mutex_unlock(&a->log->lock);
	sgx_encl_exit(a->encl, &t);
	atomic_store(&a->state, 2);
	return NULL;
}

#define BUILD_MAX_REG 62

/* Builds an initialized enclave with hooks: REG pages 0..nr_reg-1 (filled
 * with ch_fill(99, i)), then two TCS pages. */
static struct sgx_encl *build_with_ops_n(struct sgx_core *core, struct hook_log *log,
					 uint64_t nr_reg)
{
	struct sgx_layout_page lp[BUILD_MAX_REG + 2];
	struct sgx_layout layout;
	struct sgx_sign_params params;
	struct sgx_sigstruct sig;
	struct sgx_secinfo secinfo;
	struct sgx_secs secs;
	struct sgx_encl *encl;
	uint8_t page[PAGE], mr[32];
	uint64_t size = 8 * PAGE;

	CHECK_LE(nr_reg, BUILD_MAX_REG);
	while (size < (nr_reg + 2) * PAGE)
		size <<= 1;
	secs = good_secs(size);
	CHECK_EQ(sgx_encl_create(core, &secs, &hook_ops, log, &encl), 0);
	memset(lp, 0, sizeof(lp));
	for (uint64_t i = 0; i < nr_reg + 2; i++) {
		memset(&secinfo, 0, sizeof(secinfo));
		if (i < nr_reg) {
			ch_fill(page, 99, i, 0);
			secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
		} else {
			memset(page, 0, sizeof(page));
			((struct sgx_tcs *)page)->nr_ssa_frames = 1; /* EENTER needs CSSA < NSSA */
			secinfo.flags = SGX_SECINFO_TCS;
		}
		CHECK_EQ(sgx_encl_add_page(encl, i * PAGE, page, &secinfo, 0), 0);
		lp[i].offset = i * PAGE;
		lp[i].secinfo_flags = secinfo.flags;
	}
	memset(&layout, 0, sizeof(layout));
	layout.size = secs.size;
	layout.ssa_frame_size = 1;
	layout.attributes = secs.attributes;
	layout.xfrm = secs.xfrm;
	layout.nr_pages = nr_reg + 2;
	layout.pages = lp;
	CHECK_EQ(sgx_layout_measure(&layout, mr), 0);
	memset(&params, 0, sizeof(params));
	params.attributes = secs.attributes;
	params.attributes_mask = SGX_ATTR_MODE64BIT;
	params.xfrm = secs.xfrm;
	params.xfrm_mask = SGX_XFRM_LEGACY;
	CHECK_EQ(sgx_sigstruct_sign(ch_key(), &params, mr, &sig), 0);
	CHECK_EQ(sgx_encl_init(encl, &sig, NULL, NULL), 0);
	return encl;
}

/* REG pages 0..3, TCS at 4, 5. */
static struct sgx_encl *build_with_ops(struct sgx_core *core, struct hook_log *log)
{
	return build_with_ops_n(core, log, 4);
}

/* A thread inside holds EWB up: ETRACK, then the kick hook, which makes it
 * leave, then the write-back goes through. */
TEST(kick_hook_lets_ewb_through)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	struct hook_log log = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct inside_arg a = { 0 };
	struct sgx_core_stats st;
	struct sgx_encl *encl;
	pthread_t th;
	uint8_t buf[PAGE], want[PAGE];

	cfg.ipi_wait_us = 2000000;
	core = ch_core(cpu, &cfg);
	encl = build_with_ops(core, &log);
	a.encl = encl;
	a.tcs = 4 * PAGE;
	a.log = &log;
	a.wait_for_kick = true;
	CHECK_EQ(pthread_create(&th, NULL, inside_main, &a), 0);
	while (atomic_load(&a.state) != 1)
		sched_yield();
	CHECK_EQ(sgx_encl_evict(encl, 1 * PAGE), 0);
	pthread_join(th, NULL);
	CHECK_GE(log.kicks, 1);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.ewb_retry_etrack, 1);
	CHECK_EQ(st.ewb_retry_ipi, 1);
	CHECK_EQ(st.ewb_gave_up, 0);
	CHECK_EQ(st.ewb_kicks, 1);
	CHECK_EQ(st.ewb_ipi_waits, 1);
	ch_fill(want, 99, 1, 0);
	CHECK_EQ(sgx_encl_read(encl, PAGE, buf, PAGE), 0);
	CHECK_MEM(buf, want, PAGE);
	sgx_encl_release(encl);
	ch_finish(core, cpu, -1);
}

/* A thread that stays inside: EWB gives up, the page stays resident and
 * blocked with its contents; once the thread left, it goes.  A TCS left
 * blocked that way can still be entered: entering writes it back and
 * loads it first. */
TEST(ewb_gives_up_while_thread_inside)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	struct hook_log log = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct inside_arg a = { 0 };
	struct sgx_encl_page_info info;
	struct sgx_core_stats st;
	struct sgx_cpu_thread t = { 0 };
	struct sgx_encl *encl;
	pthread_t th;
	uint8_t buf[PAGE], want[PAGE];

	cfg.ipi_wait_us = 3000;
	core = ch_core(cpu, &cfg);
	encl = build_with_ops(core, &log);
	a.encl = encl;
	a.tcs = 4 * PAGE;
	a.log = &log;
	a.wait_for_kick = false;
	CHECK_EQ(pthread_create(&th, NULL, inside_main, &a), 0);
	while (atomic_load(&a.state) != 1)
		sched_yield();

	CHECK_EQ(sgx_encl_evict(encl, 2 * PAGE), -EAGAIN);
	CHECK_EQ(sgx_encl_page_info(encl, 2 * PAGE, &info), 0);
	CHECK(info.resident);
	CHECK(info.blocked);
	CHECK(!info.being_reclaimed);
	ch_fill(want, 99, 2, 0);
	CHECK_EQ(sgx_encl_read(encl, 2 * PAGE, buf, PAGE), 0);
	CHECK_MEM(buf, want, PAGE);
	/* The other TCS too. */
	CHECK_EQ(sgx_encl_evict(encl, 5 * PAGE), -EAGAIN);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.ewb_gave_up, 2);
	CHECK_EQ(st.backing_charged, 0);
	/* One kick and one wait each: the thread was asked once. */
	CHECK_EQ(log.kicks, 2);
	CHECK_EQ(st.ewb_ipi_waits, 2);

	atomic_store(&a.release, true);
	pthread_mutex_lock(&log.lock);
	pthread_cond_broadcast(&log.cond);
	pthread_mutex_unlock(&log.lock);
	pthread_join(th, NULL);

	/* The blocked TCS: entering writes it back and loads it. */
	CHECK_EQ(sgx_encl_enter(encl, 5 * PAGE, &t), 0);
	sgx_encl_exit(encl, &t);
	CHECK_EQ(sgx_encl_page_info(encl, 5 * PAGE, &info), 0);
	CHECK(info.resident && !info.blocked);
	/* Already blocked: EBLOCK says so, EWB goes on. */
	CHECK_EQ(sgx_encl_evict(encl, 2 * PAGE), 0);
	CHECK_EQ(sgx_encl_read(encl, 2 * PAGE, buf, PAGE), 0);
	CHECK_MEM(buf, want, PAGE);
	/* Entering a REG page is refused; a page never added too. */
	CHECK_EQ(sgx_encl_enter(encl, 0, &t), -EINVAL);
	CHECK_EQ(sgx_encl_enter(encl, 6 * PAGE, &t), -EFAULT);
	sgx_encl_release(encl);
	ch_finish(core, cpu, -1);
}

/* Pages of enc resident and blocked: EBLOCKed, never written back. */
static unsigned int count_blocked(struct sgx_encl *encl, uint64_t nr_pages)
{
	struct sgx_encl_page_info info;
	unsigned int n = 0;

	for (uint64_t i = 0; i < nr_pages; i++) {
		CHECK_EQ(sgx_encl_page_info(encl, i * PAGE, &info), 0);
		n += info.resident && info.blocked;
	}
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A thread that never leaves enclave A while enclave B grows: the batches
 * of B's allocations meet A's pages, which cannot be written back.  Each
 * batch tracks A once (one ETRACK, one kick, one wait), not once per page,
 * and gives A's pages back to the LRU; once the thread has left, later
 * batches write every one of them back, and nothing stays blocked.
 */
#define TRACK_A_REG 40
#define TRACK_B_ADDS 120

TEST(tracking_waits_once_per_enclave_per_batch)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	struct hook_log log = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct inside_arg a = { 0 };
	struct sgx_secinfo secinfo;
	struct sgx_core_stats st;
	struct sgx_encl *encl;
	struct ch_encl b;
	uint8_t buf[PAGE], want[PAGE];
	unsigned int blocked, rounds;
	double t0;
	pthread_t th;

	cfg.ipi_wait_us = 3000;
	cfg.backing_limit = 1024; /* B's pages all fit */
	core = ch_core(cpu, &cfg);
	encl = build_with_ops_n(core, &log, TRACK_A_REG);
	a.encl = encl;
	a.tcs = TRACK_A_REG * PAGE;
	a.log = &log;
	a.wait_for_kick = false; /* it stays until the test lets it go */
	CHECK_EQ(pthread_create(&th, NULL, inside_main, &a), 0);
	while (atomic_load(&a.state) != 1)
		sched_yield();

	CHECK_EQ(ch_build_ex(core, 3, 0, 0, 256 * PAGE, false, &b), 0);
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	t0 = now_s();
	for (uint64_t i = 0; i < TRACK_B_ADDS; i++) {
		ch_fill(buf, 3, i, 0);
		CHECK_EQ(sgx_encl_add_page(b.encl, i * PAGE, buf, &secinfo, 0), 0);
	}
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	printf("%d adds of B beside a thread inside A: %.3f s, %llu batches, %llu ETRACKs, "
	       "%llu kicks, %llu waits, %llu pages given up\n",
	       TRACK_B_ADDS, now_s() - t0, (unsigned long long)st.reclaim_batches,
	       (unsigned long long)st.ewb_etracks, (unsigned long long)log.kicks,
	       (unsigned long long)st.ewb_ipi_waits, (unsigned long long)st.ewb_gave_up);
	/* A's pages met the thread... */
	CHECK_GT(st.ewb_gave_up, 0);
	CHECK_GT(count_blocked(encl, TRACK_A_REG + 2), 0);
	/* ...and each batch asked it to leave once and waited once: one
	 * enclave with a thread inside, so at most one kick and one wait per
	 * batch, and at most one ETRACK per enclave (A, B) per batch. */
	CHECK_LE(log.kicks, st.reclaim_batches);
	CHECK_EQ(st.ewb_kicks, log.kicks);
	CHECK_EQ(st.ewb_ipi_waits, log.kicks);
	CHECK_EQ(st.ewb_batch_waits, st.ewb_ipi_waits);
	CHECK_LE(st.ewb_etracks, 2 * st.reclaim_batches);
	CHECK_LT(st.ewb_etracks, st.ewb_retry_etrack); /* pages that needed one */

	atomic_store(&a.release, true);
	pthread_mutex_lock(&log.lock);
	pthread_cond_broadcast(&log.cond);
	pthread_mutex_unlock(&log.lock);
	pthread_join(th, NULL);

	/* The thread has left: later batches write A's blocked pages back. */
	blocked = count_blocked(encl, TRACK_A_REG + 2);
	for (rounds = 0; blocked && rounds < 64; rounds++) {
		CHECK_GE(sgx_core_reclaim(core), 0);
		blocked = count_blocked(encl, TRACK_A_REG + 2);
	}
	CHECK_EQ(blocked, 0);
	for (uint64_t i = 0; i < TRACK_A_REG; i++) {
		ch_fill(want, 99, i, 0);
		CHECK_EQ(sgx_encl_read(encl, i * PAGE, buf, PAGE), 0);
		CHECK_MEM(buf, want, PAGE);
	}
	for (uint64_t i = 0; i < TRACK_B_ADDS; i++) {
		ch_fill(want, 3, i, 0);
		CHECK_EQ(sgx_encl_read(b.encl, i * PAGE, buf, PAGE), 0);
		CHECK_MEM(buf, want, PAGE);
	}
	sgx_encl_release(b.encl);
	sgx_encl_release(encl);
	ch_finish(core, cpu, -1);
}

/* Two enclaves, each with a thread that stays inside, in one batch: one
 * kick each, and the batch's waits overlap: two waits counted, one batch. */
TEST(tracking_two_enclaves_one_batch)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	struct hook_log log[2] = {
		{ .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER },
		{ .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER },
	};
	struct inside_arg a[2];
	struct sgx_core_stats st;
	struct sgx_encl *encl[2];
	pthread_t th[2];

	cfg.ipi_wait_us = 20000;
	core = ch_core(cpu, &cfg);
	memset(a, 0, sizeof(a));
	for (int k = 0; k < 2; k++) {
		encl[k] = build_with_ops_n(core, &log[k], 4);
		a[k].encl = encl[k];
		a[k].tcs = 4 * PAGE;
		a[k].log = &log[k];
		CHECK_EQ(pthread_create(&th[k], NULL, inside_main, &a[k]), 0);
		while (atomic_load(&a[k].state) != 1)
			sched_yield();
	}
	/* 12 pages on the LRU, one batch takes them all; the entered TCS are
	 * young and go back. */
	CHECK_EQ(sgx_core_reclaim(core), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.reclaim_batches, 1);
	CHECK_EQ(st.age_hits, 2);
	CHECK_EQ(st.ewb_gave_up, 10);
	CHECK_EQ(st.ewb_retry_etrack, 10);
	CHECK_EQ(st.ewb_retry_ipi, 10);
	CHECK_EQ(st.ewb_etracks, 2);
	CHECK_EQ(st.ewb_kicks, 2);
	CHECK_EQ(st.ewb_ipi_waits, 2);
	CHECK_EQ(st.ewb_batch_waits, 1);
	CHECK_EQ(log[0].kicks, 1);
	CHECK_EQ(log[1].kicks, 1);
	CHECK_EQ(count_blocked(encl[0], 6) + count_blocked(encl[1], 6), 10);
	for (int k = 0; k < 2; k++) {
		atomic_store(&a[k].release, true);
		pthread_mutex_lock(&log[k].lock);
		pthread_cond_broadcast(&log[k].cond);
		pthread_mutex_unlock(&log[k].lock);
		pthread_join(th[k], NULL);
	}
	/* Gone: the next batch writes them back without a wait, the TCS
	 * pages (aged once) too, then both SECS. */
	CHECK_EQ(sgx_core_reclaim(core), 14);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.ewb_ipi_waits, 2);
	CHECK_EQ(st.ewb_batch_waits, 1);
	CHECK_EQ(count_blocked(encl[0], 6) + count_blocked(encl[1], 6), 0);
	for (int k = 0; k < 2; k++)
		sgx_encl_release(encl[k]);
	ch_finish(core, cpu, -1);
}

/* The reclaimer holds a reference while the owner releases: the teardown
 * happens when it lets go, and quiesce waits for that. */
TEST(release_while_reclaimer_holds)
{
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, NULL);
	int fds = ch_count_fds();

	for (int round = 0; round < 20; round++) {
		struct ch_encl e;

		CHECK_EQ(ch_build(core, 20 + round, 200, 1, round % 2, &e), 0);
		sgx_encl_release(e.encl);
	}
	ch_finish(core, cpu, fds);
}
