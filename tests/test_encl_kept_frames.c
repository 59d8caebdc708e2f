/*
 * test_encl_kept_frames.c: frames EREMOVE refuses when an enclave's pages
 * are freed.  The kernel's sgx_encl_free_epc_page() leaks such a frame;
 * the core keeps it on a list, EREMOVEs it again on a later free (at most
 * every 10 ms), and frees it once it goes, counting both in the statistics
 * (epc_leaked, epc_leak_retries, epc_leak_recovered).
 */
#include <time.h>

#include "core_helpers.h"

#define PAGE SGX_PAGE_SIZE

static struct sgx_core *quiet_core(struct sgx_cpu *cpu)
{
	struct sgx_core_config cfg;

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true;
	return ch_core(cpu, &cfg);
}

/* An enclave released while a thread is inside it: EREMOVE of each child
 * answers SGX_ENCLAVE_ACT and the SECS's SGX_CHILD_PRESENT, so its frames
 * are kept.  Once the thread has left, the next free by another enclave
 * removes and frees them all. */
TEST(kept_frames_are_retried_and_freed)
{
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = quiet_core(cpu);
	struct sgx_cpu_thread t = { 0 };
	struct sgx_core_stats st;
	struct ch_encl a, b, c;
	uint64_t kept, retries;
	int fds = ch_count_fds();

	CHECK_EQ(ch_build(core, 1, 4, 1, true, &a), 0);
	CHECK_EQ(ch_build(core, 2, 2, 1, true, &b), 0);
	CHECK_EQ(sgx_encl_enter(a.encl, ch_tcs_offset(&a, 0), &t), 0);
	sgx_encl_release(a.encl);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	/* Four REG pages, the TCS and the SECS. */
	kept = st.epc_leaked;
	printf("  kept %" PRIu64 " frames, %" PRIu64 " retries so far\n", kept, st.epc_leak_retries);
	CHECK_EQ(kept, 6);
	CHECK_EQ(st.epc_leak_recovered, 0);
	CHECK_EQ(sgx_cpu_nr_valid(cpu) >= kept, 1);

	/* Still inside: a retry on a free (c's release) changes nothing. */
	retries = st.epc_leak_retries;
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	CHECK_EQ(ch_build(core, 3, 2, 0, false, &c), 0);
	sgx_encl_release(c.encl);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.epc_leaked, kept);
	CHECK_GT(st.epc_leak_retries, retries);
	CHECK_EQ(st.epc_leak_recovered, 0);

	/* The thread leaves; the next free removes the kept frames. */
	sgx_cpu_thread_exit(cpu, &t);
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	sgx_encl_release(b.encl);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	printf("  after: kept %" PRIu64 ", retries %" PRIu64 ", recovered %" PRIu64 "\n",
	       st.epc_leaked, st.epc_leak_retries, st.epc_leak_recovered);
	CHECK_EQ(st.epc_leaked, 0);
	CHECK_EQ(st.epc_leak_recovered, kept);
	ch_finish(core, cpu, fds);
}
