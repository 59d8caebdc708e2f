/*
 * core.c: the SGX core (core.h): creation and destruction, the LRU of
 * reclaimable pages, the machine-wide backing charge, statistics and the
 * invariant check.  The reclaimer itself is in reclaim.c, enclaves in
 * encl.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "epc/core_internal.h"

void sgx_core_config_default(struct sgx_core_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	sgx_epc_config_default(&cfg->epc);
	cfg->backing_limit = SGX_BACKING_LIMIT_DEFAULT;
	cfg->batch = SGX_NR_TO_SCAN;
	cfg->no_reclaimer_thread = false;
	cfg->ipi_wait_us = 0;
	cfg->va_policy = SGX_VA_POLICY_KERNEL;
	cfg->contents_policy = SGX_CONTENTS_KEEP;
}

static const char *const contents_policy_names[] = {
	[SGX_CONTENTS_KEEP] = "keep",
	[SGX_CONTENTS_RELEASE] = "release",
};

const char *sgx_contents_policy_name(enum sgx_contents_policy policy)
{
	if ((unsigned int)policy >= sizeof(contents_policy_names) / sizeof(contents_policy_names[0]))
		return NULL;
	return contents_policy_names[policy];
}

int sgx_contents_policy_parse(const char *name, enum sgx_contents_policy *policy)
{
	for (unsigned int p = 0;
	     name && p < sizeof(contents_policy_names) / sizeof(contents_policy_names[0]); p++) {
		if (!strcmp(name, contents_policy_names[p])) {
			*policy = (enum sgx_contents_policy)p;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const va_policy_names[] = {
	[SGX_VA_POLICY_KERNEL] = "kernel",
	[SGX_VA_POLICY_ON_DEMAND] = "on-demand",
};

const char *sgx_va_policy_name(enum sgx_va_policy policy)
{
	if ((unsigned int)policy >= sizeof(va_policy_names) / sizeof(va_policy_names[0]))
		return NULL;
	return va_policy_names[policy];
}

int sgx_va_policy_parse(const char *name, enum sgx_va_policy *policy)
{
	for (unsigned int p = 0; name && p < sizeof(va_policy_names) / sizeof(va_policy_names[0]);
	     p++) {
		if (!strcmp(name, va_policy_names[p])) {
			*policy = (enum sgx_va_policy)p;
			return 0;
		}
	}
	return -EINVAL;
}

int sgx_core_create(struct sgx_cpu *cpu, const struct sgx_core_config *cfg,
		    struct sgx_core **out)
{
	struct sgx_core_config dflt;
	struct sgx_core *core;
	uint64_t total;
	int ret;

	if (!cpu || !out)
		return -EINVAL;
	if (!cfg) {
		sgx_core_config_default(&dflt);
		cfg = &dflt;
	}
	if (cfg->batch == 0 || cfg->batch > SGX_RECLAIM_BATCH_MAX)
		return -EINVAL;
	if (cfg->ipi_wait_us > 10 * 1000 * 1000)
		return -EINVAL;
	if (!sgx_va_policy_name(cfg->va_policy))
		return -EINVAL;
	if (!sgx_contents_policy_name(cfg->contents_policy))
		return -EINVAL;

	core = calloc(1, sizeof(*core));
	if (!core)
		return -ENOMEM;
	core->cpu = cpu;
	core->batch = cfg->batch;
	core->ipi_wait_us = cfg->ipi_wait_us ? cfg->ipi_wait_us : 20000;
	core->va_policy = cfg->va_policy;
	core->contents_policy = cfg->contents_policy;
	if (cfg->contents_ops)
		core->contents_ops = *cfg->contents_ops;
	core_mutex_init(&core->lru_lock);
	list_init(&core->lru);
	pthread_mutex_init(&core->encls_lock, NULL);
	list_init(&core->encls);
	pthread_mutex_init(&core->leak_lock, NULL);
	list_init(&core->leaked);
	pthread_mutex_init(&core->ksgxd_lock, NULL);
	pthread_cond_init(&core->ksgxd_cond, NULL);
	pthread_cond_init(&core->idle_cond, NULL);

	ret = sgx_epc_create(cpu, &cfg->epc, &core->epc);
	if (ret)
		goto err_free;
	total = sgx_epc_nr_total(core->epc);
	/* 150% of the EPC, computed without the 150/100 == 1 slip. */
	atomic_init(&core->backing_limit, cfg->backing_limit == SGX_BACKING_LIMIT_DEFAULT
						  ? total + total / 2
						  : cfg->backing_limit);
	sgx_epc_set_reclaimer(core->epc, &core_reclaim_ops, core);
	if (!cfg->no_reclaimer_thread) {
		ret = core_reclaimer_start(core);
		if (ret)
			goto err_epc;
	}
	*out = core;
	return 0;

err_epc:
	sgx_epc_set_reclaimer(core->epc, NULL, NULL);
	sgx_epc_destroy(core->epc);
err_free:
	pthread_cond_destroy(&core->idle_cond);
	pthread_cond_destroy(&core->ksgxd_cond);
	pthread_mutex_destroy(&core->ksgxd_lock);
	pthread_mutex_destroy(&core->leak_lock);
	pthread_mutex_destroy(&core->encls_lock);
	pthread_mutex_destroy(&core->lru_lock);
	free(core);
	return ret;
}

void sgx_core_destroy(struct sgx_core *core)
{
	if (!core)
		return;
	core_reclaimer_stop(core);
	sgx_core_quiesce(core);
	sgx_epc_set_reclaimer(core->epc, NULL, NULL);
	SGXEMU_ASSERT(core->nr_encls == 0);
	SGXEMU_ASSERT(atomic_load(&core->nr_lru) == 0);
	SGXEMU_ASSERT(atomic_load(&core->backing_charged) == 0);
	SGXEMU_ASSERT(atomic_load(&core->nr_va_pages) == 0);
	SGXEMU_ASSERT(atomic_load(&core->nr_va_slots_used) == 0);
	/* The machine goes with the core: leaked frames go back so that the
	 * page cache ends with every page accounted for. */
	while (!list_empty(&core->leaked)) {
		struct sgx_epc_page *page = list_first_entry(&core->leaked, struct sgx_epc_page, list);

		list_del(&page->list);
		sgx_free_epc_page(core->epc, page);
	}
	sgx_epc_destroy(core->epc);
	pthread_cond_destroy(&core->idle_cond);
	pthread_cond_destroy(&core->ksgxd_cond);
	pthread_mutex_destroy(&core->ksgxd_lock);
	pthread_mutex_destroy(&core->leak_lock);
	pthread_mutex_destroy(&core->encls_lock);
	pthread_mutex_destroy(&core->lru_lock);
	free(core);
}

struct sgx_cpu *sgx_core_cpu(const struct sgx_core *core)
{
	return core->cpu;
}

struct sgx_epc *sgx_core_epc(const struct sgx_core *core)
{
	return core->epc;
}

/* ---- LRU ------------------------------------------------------------------ */

/* Context: may hold the page's enclave lock. */
void core_lru_add(struct sgx_core *core, struct sgx_epc_page *page)
{
	pthread_mutex_lock(&core->lru_lock);
	SGXEMU_ASSERT(!(page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED));
	page->flags |= SGX_EPC_PAGE_RECLAIMER_TRACKED;
	list_add_tail(&page->list, &core->lru);
	atomic_fetch_add_explicit(&core->nr_lru, 1, memory_order_relaxed);
	pthread_mutex_unlock(&core->lru_lock);
}

bool core_lru_del(struct sgx_core *core, struct sgx_epc_page *page)
{
	bool ret = true;

	pthread_mutex_lock(&core->lru_lock);
	if (page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED) {
		if (list_empty(&page->list)) {
			ret = false; /* isolated by a reclaimer */
		} else {
			list_del(&page->list);
			page->flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
			atomic_fetch_sub_explicit(&core->nr_lru, 1, memory_order_relaxed);
		}
	}
	pthread_mutex_unlock(&core->lru_lock);
	return ret;
}

/* Takes one tracked page off the LRU for a write-back, keeping it
 * tracked.  false if it is not on the LRU. */
bool core_lru_isolate(struct sgx_core *core, struct sgx_epc_page *page)
{
	bool ret = false;

	pthread_mutex_lock(&core->lru_lock);
	if ((page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED) && !list_empty(&page->list)) {
		list_del(&page->list);
		atomic_fetch_sub_explicit(&core->nr_lru, 1, memory_order_relaxed);
		ret = true;
	}
	pthread_mutex_unlock(&core->lru_lock);
	return ret;
}

void core_lru_putback(struct sgx_core *core, struct sgx_epc_page *page)
{
	pthread_mutex_lock(&core->lru_lock);
	SGXEMU_ASSERT(page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED);
	SGXEMU_ASSERT(list_empty(&page->list));
	list_add_tail(&page->list, &core->lru);
	atomic_fetch_add_explicit(&core->nr_lru, 1, memory_order_relaxed);
	pthread_mutex_unlock(&core->lru_lock);
}

void core_lru_untrack(struct sgx_core *core, struct sgx_epc_page *page)
{
	pthread_mutex_lock(&core->lru_lock);
	SGXEMU_ASSERT(list_empty(&page->list));
	page->flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
	pthread_mutex_unlock(&core->lru_lock);
}

void core_leak_frame(struct sgx_core *core, struct sgx_epc_page *page)
{
	pthread_mutex_lock(&core->leak_lock);
	page->owner = NULL;
	page->flags = 0;
	list_add_tail(&page->list, &core->leaked);
	atomic_fetch_add_explicit(&core->nr_leaked, 1, memory_order_relaxed);
	pthread_mutex_unlock(&core->leak_lock);
}

/* Retries are at least this far apart, so a frame that stays refused (a
 * SECS whose child machine-checks) costs no EREMOVE on every free. */
#define LEAK_RETRY_NS (10 * 1000 * 1000ULL)

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The kernel's sgx_encl_free_epc_page() leaks a frame EREMOVE refuses;
 * here it is kept and tried again, since the reasons pass: threads leave
 * the enclave (SGX_ENCLAVE_ACT), a SECS's children go (SGX_CHILD_PRESENT).
 * In list order, which has children before the SECS that kept them; a
 * second pass when the first freed something.  A frame removed at last,
 * or one that machine-checks and is poisoned, goes to the page cache
 * (which quarantines the poisoned), its bytes unbound from the contents
 * of the enclave it had.
 */
void core_leak_retry(struct sgx_core *core)
{
	struct sgx_epc_page *page, *tmp;
	struct list_head freed;
	uint64_t now = coarse_ns();
	bool progress = true;

	if (!atomic_load_explicit(&core->nr_leaked, memory_order_relaxed) ||
	    now - atomic_load_explicit(&core->leak_retried_ns, memory_order_relaxed) < LEAK_RETRY_NS)
		return;
	if (pthread_mutex_trylock(&core->leak_lock))
		return;
	atomic_store_explicit(&core->leak_retried_ns, now, memory_order_relaxed);
	list_init(&freed);
	for (int pass = 0; pass < 2 && progress; pass++) {
		progress = false;
		list_for_each_entry_safe(page, tmp, &core->leaked, list) {
			int ret = epc_eremove(core->cpu, page);

			core_count(core, leak_retries);
			if (ret && !(encls_machine_checked(ret) && sgx_epc_page_poisoned(page)))
				continue;
			list_move_tail(&page->list, &freed);
			atomic_fetch_sub_explicit(&core->nr_leaked, 1, memory_order_relaxed);
			core_count(core, leak_recovered);
			progress = true;
		}
	}
	pthread_mutex_unlock(&core->leak_lock);
	list_for_each_entry_safe(page, tmp, &freed, list) {
		list_del(&page->list);
		if (sgx_cpu_frame_bytes(core->cpu, page->addr) != page->addr)
			(void)sgx_cpu_frame_bind(core->cpu, page->addr, NULL);
		sgx_free_epc_page(core->epc, page);
	}
}

/* ---- Backing charge --------------------------------------------------------- */

bool core_try_charge(struct sgx_core *core, uint64_t pages)
{
	uint64_t limit = atomic_load_explicit(&core->backing_limit, memory_order_relaxed);
	uint64_t cur = atomic_load_explicit(&core->backing_charged, memory_order_relaxed);

	do {
		if (limit == 0 || cur > limit || pages > limit - cur)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&core->backing_charged, &cur, cur + pages,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

void core_uncharge(struct sgx_core *core, uint64_t pages)
{
	uint64_t old = atomic_fetch_sub_explicit(&core->backing_charged, pages,
						 memory_order_relaxed);

	SGXEMU_ASSERT(old >= pages);
	(void)old;
}

uint64_t sgx_core_backing_limit(struct sgx_core *core)
{
	return atomic_load(&core->backing_limit);
}

void sgx_core_set_backing_limit(struct sgx_core *core, uint64_t pages)
{
	atomic_store(&core->backing_limit, pages);
}

/* ---- Batches in flight ----------------------------------------------------- */

void core_busy_begin(struct sgx_core *core)
{
	pthread_mutex_lock(&core->ksgxd_lock);
	core->nr_busy++;
	pthread_mutex_unlock(&core->ksgxd_lock);
}

void core_busy_end(struct sgx_core *core)
{
	pthread_mutex_lock(&core->ksgxd_lock);
	SGXEMU_ASSERT(core->nr_busy > 0);
	if (--core->nr_busy == 0)
		pthread_cond_broadcast(&core->idle_cond);
	pthread_mutex_unlock(&core->ksgxd_lock);
}

void sgx_core_quiesce(struct sgx_core *core)
{
	pthread_mutex_lock(&core->ksgxd_lock);
	while (core->nr_busy)
		pthread_cond_wait(&core->idle_cond, &core->ksgxd_lock);
	pthread_mutex_unlock(&core->ksgxd_lock);
}

/* ---- Statistics ------------------------------------------------------------ */

#define LOAD(field) atomic_load_explicit(&core->counters.field, memory_order_relaxed)

int sgx_core_stats(struct sgx_core *core, struct sgx_core_stats *st)
{
	struct sgx_epc_stats es;
	unsigned int n;

	if (!core || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->epc_total = sgx_epc_nr_total(core->epc);
	st->epc_free = sgx_epc_nr_free(core->epc);
	st->epc_poisoned = sgx_epc_nr_poisoned(core->epc);
	st->epc_leaked = atomic_load_explicit(&core->nr_leaked, memory_order_relaxed);
	st->epc_leak_retries = LOAD(leak_retries);
	st->epc_leak_recovered = LOAD(leak_recovered);
	if (sgx_epc_stats(core->epc, &es) == 0) {
		st->epc_allocs = es.allocs;
		st->epc_steals = es.steals;
		st->epc_global_locks = es.global_locks;
		st->epc_wake_locks = es.wake_locks;
		st->epc_listed = es.listed;
	}
	n = sgx_epc_nr_nodes(core->epc);
	if (n > SGX_CORE_STATS_MAX_NODES)
		n = SGX_CORE_STATS_MAX_NODES;
	st->nr_nodes = n;
	for (unsigned int i = 0; i < n; i++) {
		struct sgx_epc_node_stats ns;

		if (sgx_epc_node_stats(core->epc, i, &ns))
			continue;
		st->nodes[i].nid = ns.nid;
		st->nodes[i].total = ns.total;
		st->nodes[i].free = ns.free;
		st->nodes[i].poisoned = ns.poisoned;
	}

	pthread_mutex_lock(&core->encls_lock);
	st->enclaves = core->nr_encls;
	pthread_mutex_unlock(&core->encls_lock);
	st->lru_pages = atomic_load_explicit(&core->nr_lru, memory_order_relaxed);

	st->pages_written_back = LOAD(pages_written_back);
	st->secs_written_back = LOAD(secs_written_back);
	st->pages_loaded = LOAD(pages_loaded);
	st->secs_loaded = LOAD(secs_loaded);
	st->load_failures = LOAD(load_failures);
	st->faults = LOAD(faults);
	st->faults_loaded = LOAD(faults_loaded);
	st->ewb_retry_etrack = LOAD(ewb_retry_etrack);
	st->ewb_retry_ipi = LOAD(ewb_retry_ipi);
	st->ewb_gave_up = LOAD(ewb_gave_up);
	st->ewb_etracks = LOAD(ewb_etracks);
	st->ewb_kicks = LOAD(ewb_kicks);
	st->ewb_ipi_waits = LOAD(ewb_ipi_waits);
	st->ewb_batch_waits = LOAD(ewb_batch_waits);
	st->ewb_failures = LOAD(ewb_failures);
	st->conflict_retries = LOAD(conflict_retries);
	st->age_hits = LOAD(age_hits);
	st->age_misses = LOAD(age_misses);
	st->backing_limit = atomic_load(&core->backing_limit);
	st->backing_charged = atomic_load(&core->backing_charged);
	st->backing_limit_hits = LOAD(backing_limit_hits);
	st->va_policy = core->va_policy;
	st->va_pages = atomic_load(&core->nr_va_pages);
	st->va_slots_used = atomic_load(&core->nr_va_slots_used);
	st->reclaim_batches = LOAD(reclaim_batches);
	st->direct_reclaims = LOAD(direct_reclaims);
	st->reclaimer_wakeups = LOAD(reclaimer_wakeups);
	st->poison_errors = LOAD(poison_errors);
	return 0;
}

/* ---- Invariants ------------------------------------------------------------ */

int sgx_core_check(struct sgx_core *core, bool quiescent, char *why, size_t why_len)
{
	uint64_t charged = 0, va_pages = 0, slots = 0;
	struct sgx_encl *encl;
	int ret = 0;

	if (why && why_len)
		why[0] = '\0';

	pthread_mutex_lock(&core->encls_lock);
	list_for_each_entry(encl, &core->encls, core_link) {
		ret = encl_check(encl, why, why_len);
		if (ret)
			break;
		core_lock(&encl->lock);
		charged += encl->charged;
		va_pages += encl->nr_va_pages;
		slots += encl->nr_written_back + encl->nr_va_retired;
		pthread_mutex_unlock(&encl->lock);
	}
	pthread_mutex_unlock(&core->encls_lock);
	if (ret || !quiescent)
		return ret;

	if (charged != atomic_load(&core->backing_charged)) {
		if (why)
			snprintf(why, why_len, "core charged %" PRIu64 " != sum over enclaves %" PRIu64,
				 atomic_load(&core->backing_charged), charged);
		return -EUCLEAN;
	}
	if (va_pages != atomic_load(&core->nr_va_pages)) {
		if (why)
			snprintf(why, why_len, "core VA pages %" PRIu64 " != sum %" PRIu64,
				 atomic_load(&core->nr_va_pages), va_pages);
		return -EUCLEAN;
	}
	if (slots != atomic_load(&core->nr_va_slots_used)) {
		if (why)
			snprintf(why, why_len, "core VA slots used %" PRIu64
				 " != pages written back %" PRIu64,
				 atomic_load(&core->nr_va_slots_used), slots);
		return -EUCLEAN;
	}
	return 0;
}
