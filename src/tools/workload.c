/*
 * workload.c: enclaves driven through the SGX core for `sgxemu stat` and
 * the demo, and the statistics printed in one shape (workload.h).
 */
#include "tools/workload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/build.h"

static const uint8_t zero_page[SGX_PAGE_SIZE];

/* xorshift64*, seeded from (tag, index, gen): 512 words per page. */
void wl_pattern(void *page, uint64_t tag, uint64_t index, uint64_t gen)
{
	uint64_t s = (tag + 1) * 0x9E3779B97F4A7C15ULL ^ (index << 20) ^ (gen << 44);
	uint64_t *w = page;

	if (!s)
		s = 1;
	for (unsigned int i = 0; i < SGX_PAGE_SIZE / 8; i++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		w[i] = s * 0x2545F4914F6CDD1DULL;
	}
}

int wl_encl_create(struct sgx_core *core, uint64_t tag, uint64_t pages, struct wl_encl *e,
		   uint64_t *at)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	uint64_t size = 2 * SGX_PAGE_SIZE;
	struct sgx_secs *secs;
	uint8_t *page;
	int ret;

	memset(e, 0, sizeof(*e));
	*at = 0;
	if (!pages || pages > (1ULL << 30))
		return -EINVAL;
	while (size < pages * SGX_PAGE_SIZE)
		size <<= 1;
	secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!secs || !page) {
		ret = -ENOMEM;
		goto out;
	}
	memset(secs, 0, sizeof(*secs));
	secs->size = size;
	secs->base = size * (1 + tag % 64); /* aligned to its size; distinct per tag */
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT;
	secs->xfrm = SGX_XFRM_LEGACY;
	ret = sgx_encl_create(core, secs, NULL, NULL, &e->encl);
	if (ret)
		goto out;
	e->tag = tag;
	e->pages = pages;
	for (uint64_t i = 0; i < pages && !ret; i++) {
		*at = i;
		wl_pattern(page, tag, i, 0);
		ret = sgx_encl_add_page(e->encl, i * SGX_PAGE_SIZE, page, &secinfo, 0);
	}
	if (ret)
		wl_encl_release(e);
out:
	free(page);
	free(secs);
	return ret;
}

int wl_encl_write(struct wl_encl *e, uint64_t gen, uint64_t *at)
{
	uint8_t page[SGX_PAGE_SIZE];
	int ret = 0;

	for (uint64_t i = 0; i < e->pages; i++) {
		wl_pattern(page, e->tag, i, gen);
		ret = sgx_encl_write(e->encl, i * SGX_PAGE_SIZE, page, sizeof(page));
		if (ret) {
			*at = i;
			return ret;
		}
	}
	e->gen = gen;
	return 0;
}

int wl_encl_verify(struct wl_encl *e, uint64_t hot_every, uint64_t *at)
{
	uint8_t want[SGX_PAGE_SIZE], got[SGX_PAGE_SIZE];
	uint64_t word;
	int ret;

	for (uint64_t i = 0; i < e->pages; i++) {
		*at = i;
		wl_pattern(want, e->tag, i, e->gen);
		ret = sgx_encl_read(e->encl, i * SGX_PAGE_SIZE, got, sizeof(got));
		if (ret)
			return ret;
		if (memcmp(want, got, sizeof(got)))
			return -EBADMSG;
		if (hot_every && i % hot_every == hot_every - 1) {
			*at = 0;
			ret = sgx_encl_read(e->encl, 0, &word, sizeof(word));
			if (ret)
				return ret;
		}
	}
	return 0;
}

void wl_encl_release(struct wl_encl *e)
{
	if (e->encl)
		sgx_encl_release(e->encl);
	e->encl = NULL;
}

int wl_build_image(struct sgx_core *core, const struct sgx_layout *layout,
		   const struct sgx_sigstruct *sigstruct, struct sgx_encl **out, int *einit_ret)
{
	struct sgx_secinfo secinfo = { 0 };
	struct sgx_secs *secs;
	int ret;

	*einit_ret = 0;
	secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	if (!secs)
		return -ENOMEM;
	build_secs(layout, sigstruct, build_base_for(layout->size), secs);
	ret = secs->base ? sgx_encl_create(core, secs, NULL, NULL, out) : -EINVAL;
	free(secs);
	if (ret)
		return ret;
	for (size_t i = 0; i < layout->nr_pages && !ret; i++) {
		const struct sgx_layout_page *pg = &layout->pages[i];

		secinfo.flags = pg->secinfo_flags;
		ret = sgx_encl_add_page(*out, pg->offset, pg->data ? pg->data : zero_page, &secinfo,
					sgx_layout_page_chunks(pg));
	}
	if (!ret)
		ret = sgx_encl_init(*out, sigstruct, NULL, einit_ret);
	if (ret) {
		sgx_encl_release(*out);
		*out = NULL;
	}
	return ret;
}

int wl_image_verify(struct sgx_encl *encl, const struct sgx_layout *layout, uint64_t *at)
{
	uint8_t got[SGX_PAGE_SIZE];
	int ret;

	for (size_t i = 0; i < layout->nr_pages; i++) {
		const struct sgx_layout_page *pg = &layout->pages[i];

		*at = i;
		ret = sgx_encl_read(encl, pg->offset, got, sizeof(got));
		if (ret)
			return ret;
		if (memcmp(got, pg->data ? pg->data : zero_page, sizeof(got)))
			return -EBADMSG;
	}
	return 0;
}

void wl_stats_json(struct json *j, const char *key, const struct sgx_core_stats *st)
{
	json_begin_object(j, key);
	json_begin_object(j, "epc");
	json_u64(j, "total", st->epc_total);
	json_u64(j, "free", st->epc_free);
	json_u64(j, "in_use", st->epc_total - st->epc_free - st->epc_poisoned - st->epc_leaked);
	json_u64(j, "poisoned", st->epc_poisoned);
	json_u64(j, "leaked", st->epc_leaked);
	json_begin_array(j, "nodes");
	for (unsigned int i = 0; i < st->nr_nodes && i < SGX_CORE_STATS_MAX_NODES; i++) {
		json_begin_object(j, NULL);
		json_i64(j, "nid", st->nodes[i].nid);
		json_u64(j, "total", st->nodes[i].total);
		json_u64(j, "free", st->nodes[i].free);
		json_u64(j, "poisoned", st->nodes[i].poisoned);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);

	json_begin_object(j, "allocator");
	json_u64(j, "allocs", st->epc_allocs);
	json_u64(j, "steals", st->epc_steals);
	json_u64(j, "global_locks", st->epc_global_locks);
	json_u64(j, "wake_locks", st->epc_wake_locks);
	json_u64(j, "free_on_node_lists", st->epc_listed);
	json_u64(j, "kept_frame_retries", st->epc_leak_retries);
	json_u64(j, "kept_frames_recovered", st->epc_leak_recovered);
	json_end_object(j);

	json_begin_object(j, "enclaves");
	json_u64(j, "count", st->enclaves);
	json_u64(j, "lru_pages", st->lru_pages);
	json_end_object(j);

	json_begin_object(j, "paging");
	json_u64(j, "pages_written_back", st->pages_written_back);
	json_u64(j, "secs_written_back", st->secs_written_back);
	json_u64(j, "pages_loaded", st->pages_loaded);
	json_u64(j, "secs_loaded", st->secs_loaded);
	json_u64(j, "load_failures", st->load_failures);
	json_end_object(j);

	json_begin_object(j, "ewb_retries");
	json_u64(j, "etrack", st->ewb_retry_etrack);
	json_u64(j, "ipi", st->ewb_retry_ipi);
	json_u64(j, "gave_up", st->ewb_gave_up);
	json_u64(j, "failures", st->ewb_failures);
	json_u64(j, "conflicts", st->conflict_retries);
	json_end_object(j);

	json_begin_object(j, "tracking");
	json_u64(j, "etracks", st->ewb_etracks);
	json_u64(j, "kicks", st->ewb_kicks);
	json_u64(j, "waits", st->ewb_ipi_waits);
	json_u64(j, "batch_waits", st->ewb_batch_waits);
	json_end_object(j);

	json_begin_object(j, "aging");
	json_u64(j, "hits", st->age_hits);
	json_u64(j, "misses", st->age_misses);
	json_end_object(j);

	json_begin_object(j, "backing");
	json_u64(j, "limit", st->backing_limit);
	json_u64(j, "charged", st->backing_charged);
	json_u64(j, "limit_hits", st->backing_limit_hits);
	json_end_object(j);

	json_begin_object(j, "va");
	json_string(j, "policy", sgx_va_policy_name(st->va_policy));
	json_u64(j, "pages", st->va_pages);
	json_u64(j, "slots_used", st->va_slots_used);
	json_end_object(j);

	json_begin_object(j, "reclaimer");
	json_u64(j, "batches", st->reclaim_batches);
	json_u64(j, "direct_reclaims", st->direct_reclaims);
	json_u64(j, "wakeups", st->reclaimer_wakeups);
	json_end_object(j);

	json_begin_object(j, "poison");
	json_u64(j, "poisoned_frames", st->epc_poisoned);
	json_u64(j, "owner_errors", st->poison_errors);
	json_end_object(j);
	json_end_object(j);
}

void wl_stats_print(FILE *f, const char *in, const struct sgx_core_stats *st)
{
	fprintf(f, "%s%-12s %llu total, %llu free, %llu in use, %llu poisoned, %llu leaked\n", in,
		"EPC", (unsigned long long)st->epc_total, (unsigned long long)st->epc_free,
		(unsigned long long)(st->epc_total - st->epc_free - st->epc_poisoned -
				     st->epc_leaked),
		(unsigned long long)st->epc_poisoned, (unsigned long long)st->epc_leaked);
	for (unsigned int i = 0; i < st->nr_nodes && i < SGX_CORE_STATS_MAX_NODES; i++)
		fprintf(f, "%s  node %-5d %llu total, %llu free, %llu poisoned\n", in,
			st->nodes[i].nid, (unsigned long long)st->nodes[i].total,
			(unsigned long long)st->nodes[i].free,
			(unsigned long long)st->nodes[i].poisoned);
	fprintf(f, "%s%-12s %llu pages handed out, %llu stolen from other threads' caches, "
		"%llu registry and %llu wake-up lock takes, %llu free on the node lists\n",
		in, "allocator", (unsigned long long)st->epc_allocs,
		(unsigned long long)st->epc_steals, (unsigned long long)st->epc_global_locks,
		(unsigned long long)st->epc_wake_locks, (unsigned long long)st->epc_listed);
	if (st->epc_leak_retries || st->epc_leak_recovered)
		fprintf(f, "%s%-12s %llu EREMOVE retries of kept frames, %llu recovered\n", in,
			"kept frames", (unsigned long long)st->epc_leak_retries,
			(unsigned long long)st->epc_leak_recovered);
	fprintf(f, "%s%-12s %llu, %llu pages on the LRU\n", in, "enclaves",
		(unsigned long long)st->enclaves, (unsigned long long)st->lru_pages);
	fprintf(f, "%s%-12s %llu written back (+%llu SECS), %llu loaded (+%llu SECS), %llu loads refused\n",
		in, "paging", (unsigned long long)st->pages_written_back,
		(unsigned long long)st->secs_written_back, (unsigned long long)st->pages_loaded,
		(unsigned long long)st->secs_loaded, (unsigned long long)st->load_failures);
	fprintf(f, "%s%-12s %llu ETRACK, %llu IPI, %llu gave up, %llu other failures\n", in,
		"EWB retries", (unsigned long long)st->ewb_retry_etrack,
		(unsigned long long)st->ewb_retry_ipi, (unsigned long long)st->ewb_gave_up,
		(unsigned long long)st->ewb_failures);
	fprintf(f, "%s%-12s %llu ETRACKs, %llu kicks, %llu waits for threads inside (in %llu "
		"batches), %llu conflicts retried\n",
		in, "tracking", (unsigned long long)st->ewb_etracks,
		(unsigned long long)st->ewb_kicks, (unsigned long long)st->ewb_ipi_waits,
		(unsigned long long)st->ewb_batch_waits, (unsigned long long)st->conflict_retries);
	fprintf(f, "%s%-12s %llu hits (young, kept), %llu misses (old, written back)\n", in,
		"aging", (unsigned long long)st->age_hits, (unsigned long long)st->age_misses);
	fprintf(f, "%s%-12s %llu pages charged of a limit of %llu, %llu write-backs refused\n", in,
		"backing", (unsigned long long)st->backing_charged,
		(unsigned long long)st->backing_limit, (unsigned long long)st->backing_limit_hits);
	fprintf(f, "%s%-12s %llu pages, %llu slots in use (%s policy)\n", in, "VA",
		(unsigned long long)st->va_pages, (unsigned long long)st->va_slots_used,
		sgx_va_policy_name(st->va_policy));
	fprintf(f, "%s%-12s %llu batches, %llu direct reclaims, %llu wake-ups\n", in, "reclaimer",
		(unsigned long long)st->reclaim_batches, (unsigned long long)st->direct_reclaims,
		(unsigned long long)st->reclaimer_wakeups);
	fprintf(f, "%s%-12s %llu frames quarantined, %llu owner accesses refused\n", in, "poison",
		(unsigned long long)st->epc_poisoned, (unsigned long long)st->poison_errors);
}

bool wl_stats_empty(const struct sgx_core_stats *st)
{
	return st->epc_free + st->epc_poisoned + st->epc_leaked == st->epc_total &&
	       st->backing_charged == 0 && st->va_pages == 0 && st->va_slots_used == 0 &&
	       st->enclaves == 0 && st->lru_pages == 0;
}
