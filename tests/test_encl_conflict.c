/*
 * test_encl_conflict.c: what the SGX core does when one of its leaves
 * meets a page another leaf holds (encls.h).  The conflicts are injected
 * into the emulated processor (sgx_cpu_inject_conflict()), which also
 * says how many leaves met them, so each case counts the leaf's runs: an
 * SGX_EPC_PAGE_CONFLICT (EBLOCK's answer, and ETRACK's against another
 * ETRACK) is retried, a bounded number of times; a #GP (EWB's answer for
 * its VA page) is not, since the core cannot tell it from a malformed
 * operand, and the write-back fails as an EWB failure, the page resident.
 */
#include <errno.h>

#include "core_helpers.h"

#define PAGE SGX_PAGE_SIZE

struct fx {
	struct sgx_cpu *cpu;
	struct sgx_core *core;
	struct ch_encl e;
	int fds;
};

static void fx_setup(struct fx *f)
{
	struct sgx_core_config cfg;

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true; /* nothing but the case runs leaves */
	f->fds = ch_count_fds();
	f->cpu = ch_machine(64);
	f->core = ch_core(f->cpu, &cfg);
	CHECK_EQ(ch_build(f->core, 1, 3, 1, true, &f->e), 0);
}

static void fx_finish(struct fx *f)
{
	sgx_encl_release(f->e.encl);
	ch_finish(f->core, f->cpu, f->fds);
}

static void *page_frame(struct fx *f, uint64_t offset)
{
	struct sgx_encl_page_info info;

	CHECK_EQ(sgx_encl_page_info(f->e.encl, offset, &info), 0);
	CHECK(info.resident);
	return info.epc_addr;
}

/* The enclave's VA page: the one VA frame of the machine. */
static void *va_frame(struct fx *f)
{
	void *va = NULL;

	for (uint64_t i = 0; i < sgx_cpu_nr_frames(f->cpu); i++) {
		struct sgx_epcm_info info;
		void *addr = sgx_cpu_frame_addr(f->cpu, i);

		CHECK_EQ(sgx_cpu_epcm_info(f->cpu, addr, &info), 0);
		if (info.valid && info.type == SGX_PAGE_TYPE_VA) {
			CHECK_MSG(!va, "more than one VA page");
			va = addr;
		}
	}
	CHECK(va);
	return va;
}

static struct sgx_core_stats stats(struct fx *f)
{
	struct sgx_core_stats st;

	CHECK_EQ(sgx_core_stats(f->core, &st), 0);
	return st;
}

/* The page's contents survive whatever the write-back did. */
static void check_contents(struct fx *f, uint64_t index)
{
	uint8_t want[PAGE], got[PAGE];

	ch_fill(want, f->e.tag, index, 0);
	CHECK_EQ(sgx_encl_read(f->e.encl, index * PAGE, got, PAGE), 0);
	CHECK_MEM(got, want, PAGE);
}

TEST(ewb_gp_is_not_retried)
{
	struct sgx_encl_page_info info;
	struct sgx_core_stats st;
	struct fx f;
	void *va;

	fx_setup(&f);
	va = va_frame(&f);
	/* Five leaves would find the VA page held; EWB takes it Shared and
	 * answers #GP: one EWB meets it, and nothing runs it again. */
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, va, SGX_CONFLICT_PAGE, 5), 0);
	CHECK_EQ(sgx_encl_evict(f.e.encl, PAGE), -EIO);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, va, SGX_CONFLICT_PAGE, 0), 4);
	st = stats(&f);
	CHECK_EQ(st.ewb_failures, 1);
	CHECK_EQ(st.conflict_retries, 0);
	CHECK_EQ(st.pages_written_back, 0);
	CHECK_EQ(sgx_encl_page_info(f.e.encl, PAGE, &info), 0);
	CHECK(info.resident);
	/* Without it, the same write-back goes through. */
	CHECK_EQ(sgx_encl_evict(f.e.encl, PAGE), 0);
	CHECK_EQ(stats(&f).pages_written_back, 1);
	check_contents(&f, 1);
	fx_finish(&f);
}

TEST(eblock_conflict_is_retried)
{
	struct sgx_core_stats st;
	struct fx f;
	void *frame;

	fx_setup(&f);
	frame = page_frame(&f, PAGE);
	/* Three EBLOCKs answer SGX_EPC_PAGE_CONFLICT; the fourth blocks the
	 * page and the write-back completes. */
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, frame, SGX_CONFLICT_PAGE, 3), 0);
	CHECK_EQ(sgx_encl_evict(f.e.encl, PAGE), 0);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, frame, SGX_CONFLICT_PAGE, 0), 0);
	st = stats(&f);
	CHECK_EQ(st.conflict_retries, 3);
	CHECK_EQ(st.ewb_failures, 0);
	CHECK_EQ(st.pages_written_back, 1);
	check_contents(&f, 1);
	fx_finish(&f);
}

TEST(etrack_conflict_is_retried)
{
	struct sgx_core_stats st;
	struct fx f;
	void *secs;

	fx_setup(&f);
	secs = page_frame(&f, f.e.size);
	/* EWB wants an ETRACK after the EBLOCK; two ETRACKs meet another
	 * one running and answer SGX_EPC_PAGE_CONFLICT. */
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, secs, SGX_CONFLICT_TRACKING, 2), 0);
	CHECK_EQ(sgx_encl_evict(f.e.encl, 2 * PAGE), 0);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, secs, SGX_CONFLICT_TRACKING, 0), 0);
	st = stats(&f);
	CHECK_EQ(st.conflict_retries, 2);
	CHECK_EQ(st.ewb_retry_etrack, 1);
	CHECK_EQ(st.pages_written_back, 1);
	check_contents(&f, 2);
	fx_finish(&f);
}

TEST(conflict_retries_are_bounded)
{
	struct sgx_encl_page_info info;
	struct sgx_core_stats st;
	struct fx f;
	void *frame;
	int left;

	fx_setup(&f);
	frame = page_frame(&f, PAGE);
	/* A page held for good: EBLOCK gives up after its bounded tries, the
	 * write-back fails, and the page stays resident, not blocked. */
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, frame, SGX_CONFLICT_PAGE, 100000), 0);
	CHECK_EQ(sgx_encl_evict(f.e.encl, PAGE), -EIO);
	left = sgx_cpu_inject_conflict(f.cpu, frame, SGX_CONFLICT_PAGE, 0);
	st = stats(&f);
	CHECK_GT(left, 0);
	CHECK_EQ(st.conflict_retries, (uint64_t)(100000 - left - 1));
	CHECK_LT(st.conflict_retries, 1000);
	CHECK_EQ(st.pages_written_back, 0);
	CHECK_EQ(sgx_encl_page_info(f.e.encl, PAGE, &info), 0);
	CHECK(info.resident && !info.blocked);
	check_contents(&f, 1);
	CHECK_EQ(sgx_encl_evict(f.e.encl, PAGE), 0);
	fx_finish(&f);
}
