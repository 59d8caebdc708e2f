/*
 * test_machine_arena.c: a client of a machine process runs ENCLU on the
 * machine's own processor state: HELLO hands over the arena, the client
 * maps it at the machine's address and attaches (hw.c, runtime.c).
 */
#include <sys/wait.h>

#include "machine_helpers.h"
#include "sgxemu/rt_enclu.h"

TEST(client_attaches_to_the_machines_processor)
{
	struct sgxp_machine_stats st;
	struct sgx_cpu *cpu;
	uint32_t regs[4];
	uint64_t base, size;
	pid_t pid;
	int status;

	mh_start();
	CHECK(sgxrt_machine_cpu() == NULL);
	mh_stats(&st); /* the first call connects */
	cpu = sgxrt_machine_cpu();
	CHECK(cpu != NULL);
	/* The machine's EPC, as CPUID leaf 0x12 reports it, in both. */
	CHECK_EQ(sgx_cpu_nr_frames(cpu), st.epc_total);
	sgx_cpu_cpuid(cpu, SGX_CPUID_EPC, regs);
	base = ((uint64_t)(regs[1] & 0xfffff) << 32) | (regs[0] & 0xfffff000U);
	size = ((uint64_t)(regs[3] & 0xfffff) << 32) | (regs[2] & 0xfffff000U);
	CHECK_EQ(base, (uint64_t)(uintptr_t)sgx_cpu_frame_addr(cpu, 0));
	CHECK_EQ(size, st.epc_total * SGX_PAGE_SIZE);
	/* Frames the machine has not used are free in the EPCM here too. */
	CHECK_EQ(sgx_cpu_nr_valid(cpu), st.epcm_valid);

	/* A child shares the mapping and sees the machine's EPCM change. */
	{
		int fd = mh_open();

		CHECK_EQ(mh_build(fd, 3, 8, 1, true), 0);
		pid = fork();
		CHECK_GE(pid, 0);
		if (pid == 0)
			_exit(sgxrt_machine_cpu() == cpu && sgx_cpu_nr_valid(cpu) >= 10 ? 0 : 1);
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %#x", status);
		mh_stats(&st);
		CHECK_EQ(sgx_cpu_nr_valid(cpu), st.epcm_valid);
		CHECK_EQ(sgxrt_close(fd), 0);
	}
	mh_finish();
}
