/*
 * bench_reclaim.c: the reclaim-rate benchmark behind `sgxemu bench epc`'s
 * reclaim_pages_per_s, and what the page cache's allocation paths did
 * meanwhile (steals_per_1k_allocs, global_lock_per_1k_allocs).  A streaming workload: one enclave several times
 * the EPC, touched in page order, so that nearly every touch faults a page
 * in and the reclaimer writes the oldest one out.  Nothing is printed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_build(struct sgx_core *core, uint64_t encl_pages, struct sgx_encl **out)
{
	struct sgx_secinfo secinfo;
	struct sgx_secs *secs;
	uint64_t size = 2 * SGX_PAGE_SIZE;
	uint8_t *page;
	int ret;

	while (size < encl_pages * SGX_PAGE_SIZE)
		size <<= 1;
	secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!secs || !page) {
		ret = -ENOMEM;
		goto out;
	}
	memset(secs, 0, sizeof(*secs));
	secs->size = size;
	secs->base = size; /* aligned to its size, and canonical */
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT;
	secs->xfrm = SGX_XFRM_LEGACY;
	ret = sgx_encl_create(core, secs, NULL, NULL, out);
	if (ret)
		goto out;
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	for (uint64_t i = 0; i < encl_pages && !ret; i++) {
		memset(page, (int)(i & 0xFF), SGX_PAGE_SIZE);
		ret = sgx_encl_add_page(*out, i * SGX_PAGE_SIZE, page, &secinfo, 0);
	}
	if (ret) {
		sgx_encl_release(*out);
		*out = NULL;
	}
out:
	free(page);
	free(secs);
	return ret;
}

int sgx_bench_reclaim_run(struct sgx_cpu *cpu, uint64_t encl_pages, unsigned int passes,
			  struct sgx_bench_reclaim *out)
{
	struct sgx_core_config cfg;
	struct sgx_core_stats before, after;
	struct sgx_core *core;
	struct sgx_encl *encl;
	double start, elapsed;
	int ret;

	if (!cpu || !out || passes == 0 || passes > 1000)
		return -EINVAL;
	if (encl_pages < 2 * sgx_cpu_nr_frames(cpu) || encl_pages > (1ULL << 24))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	sgx_core_config_default(&cfg);
	/* Room for every page and its PCMD page: the limit is not measured. */
	cfg.backing_limit = encl_pages + encl_pages / 32 + 64;
	ret = sgx_core_create(cpu, &cfg, &core);
	if (ret)
		return ret;
	ret = bench_build(core, encl_pages, &encl);
	if (ret)
		goto out_core;

	sgx_core_stats(core, &before);
	start = now_s();
	for (unsigned int p = 0; p < passes && !ret; p++) {
		for (uint64_t i = 0; i < encl_pages && !ret; i++) {
			uint64_t v = i + p;

			ret = sgx_encl_write(encl, i * SGX_PAGE_SIZE, &v, sizeof(v));
		}
	}
	elapsed = now_s() - start;
	sgx_core_stats(core, &after);
	if (!ret) {
		out->pages_per_s = elapsed > 0 ? (double)(after.pages_written_back -
							  before.pages_written_back) /
							 elapsed
					       : 0;
		out->allocs = after.epc_allocs - before.epc_allocs;
		out->steals = after.epc_steals - before.epc_steals;
		out->global_locks = after.epc_global_locks - before.epc_global_locks;
		out->wake_locks = after.epc_wake_locks - before.epc_wake_locks;
		out->direct_reclaims = after.direct_reclaims - before.direct_reclaims;
		out->free_end = after.epc_free;
		out->listed_end = after.epc_listed;
	}
	sgx_encl_release(encl);
out_core:
	sgx_core_quiesce(core);
	sgx_core_destroy(core);
	return ret;
}

int sgx_bench_reclaim(struct sgx_cpu *cpu, uint64_t encl_pages, unsigned int passes,
		      double *pages_per_s)
{
	struct sgx_bench_reclaim r;
	int ret;

	if (!pages_per_s)
		return -EINVAL;
	ret = sgx_bench_reclaim_run(cpu, encl_pages, passes, &r);
	if (!ret)
		*pages_per_s = r.pages_per_s;
	return ret;
}
