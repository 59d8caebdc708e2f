/*
 * test_cpuid.c: CPUID answered as an SGX machine of the model would
 * (rt_cpuid.h) where the host can fault CPUID, the clear error where it
 * cannot (made here with a seccomp filter, so it runs on every host), and
 * the /proc/cpuinfo and sgx_total_bytes texts.
 *
 * The answers are checked against the SDM's layout of leaf 7 and leaf
 * 0x12 computed here from the model's configuration, and against the
 * host's own CPUID read before faulting was armed.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "rt_helpers.h"
#include "sgxemu/rt_cpuid.h"

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

extern char **environ;

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

/* After execve: report leaf 7's EBX and whether CPUID faults, then
 * leave before the test runner starts. */
__attribute__((constructor)) static void exec_child_report(void)
{
	const char *fd = getenv("TEST_CPUID_REPORT_FD");
	uint32_t r[4];

	if (!fd)
		return;
	cpuid(7, 0, r);
	dprintf(atoi(fd), "%u %ld\n", r[1], syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0));
	_exit(0);
}

/* Keeps the thread on one CPU: leaves 1, 0xB and 0x1F carry its APIC id. */
static void pin(void)
{
	cpu_set_t set;

	CHECK_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set)) {
			CPU_ZERO(&set);
			CPU_SET(c, &set);
			CHECK_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
			return;
		}
	}
}

/* A model of three sections on nodes 0, 1 and 0. */
static const uint64_t section_bytes[3] = { 64 * 4096, 32 * 4096, 16 * 4096 };
static const int section_nodes[3] = { 0, 1, 0 };

static struct sgx_cpu *model(enum sgx_lc_mode lc)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, 4096);
	cfg.nr_sections = 3;
	for (int i = 0; i < 3; i++) {
		cfg.sections[i].size = section_bytes[i];
		cfg.sections[i].node = section_nodes[i];
	}
	cfg.max_enclave_size_64 = 36;
	cfg.lc_mode = lc;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

/* Installs; false (with the note printed) where the host cannot fault
 * CPUID, after checking that the error says so. */
static bool install(struct sgx_cpu *cpu)
{
	int ret = sgxrt_cpuid_install(cpu);

	if (ret == -ENODEV) {
		CHECK(strstr(sgxrt_cpuid_strerror(ret), "ENODEV") != NULL);
		printf("note: %s; the answering part was not exercised on this host\n",
		       sgxrt_cpuid_strerror(ret));
		return false;
	}
	CHECK_EQ(ret, 0);
	/* ARCH_GET_CPUID: 0 once CPUID faults. */
	CHECK_EQ(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0), 0);
	return true;
}

TEST(leaf7_gains_sgx_and_sgx_lc)
{
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	uint32_t before[4], before1[4], after[4], after1[4];

	pin();
	cpuid(7, 0, before);
	cpuid(7, 1, before1);
	if (!install(cpu))
		goto out;
	cpuid(7, 0, after);
	CHECK_EQ(after[0], before[0]);
	CHECK_EQ(after[1], before[1] | (1U << 2)); /* EBX bit 2: SGX */
	CHECK_EQ(after[2], before[2] | (1U << 30)); /* ECX bit 30: SGX_LC */
	CHECK_EQ(after[3], before[3]);
	cpuid(7, 1, after1);
	CHECK_MEM(after1, before1, sizeof(after1));
out:
	sgx_cpu_destroy(cpu);
}

/* Every sub-leaf of 0x12 as the SDM lays it out, from the configuration:
 * the sections' bases where the machine put them. */
TEST(leaf12_every_subleaf_from_the_model)
{
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	const struct sgx_cpu_config *cfg = sgx_cpu_config(cpu);
	uint32_t r[4], l0[4];
	uint64_t first = 0;

	if (!install(cpu))
		goto out;
	cpuid(0, 0, l0);
	CHECK_GE(l0[0], 0x12); /* leaf 0x12 is in range */
	cpuid(0x12, 0, r);
	CHECK_EQ(r[0], 1U); /* SGX1, no SGX2 (the model has none) */
	CHECK_EQ(r[1], cfg->miscselect_valid);
	CHECK_EQ(r[1], SGX_MISC_EXINFO);
	CHECK_EQ(r[2], 0);
	CHECK_EQ(r[3], 36U << 8); /* MaxEnclaveSize_64 36, _Not64 0 */
	cpuid(0x12, 1, r);
	CHECK_EQ(((uint64_t)r[1] << 32) | r[0], cfg->attributes_valid);
	CHECK_EQ(((uint64_t)r[3] << 32) | r[2], cfg->xfrm_valid);
	for (unsigned int i = 0; i < 3; i++) {
		uint64_t base = (uint64_t)(uintptr_t)sgx_cpu_frame_addr(cpu, first);

		cpuid(0x12, 2 + i, r);
		CHECK_EQ(r[0] & 0xf, 1); /* an EPC section */
		CHECK_EQ(r[0] & 0xff0, 0);
		CHECK_EQ(((uint64_t)(r[1] & 0xfffff) << 32) | (r[0] & 0xfffff000U), base);
		CHECK_EQ(r[2] & 0xf, 1); /* confidentiality and integrity */
		CHECK_EQ(((uint64_t)(r[3] & 0xfffff) << 32) | (r[2] & 0xfffff000U), section_bytes[i]);
		CHECK_EQ(sgx_cpu_frame_index(cpu, (void *)(uintptr_t)base), first);
		first += section_bytes[i] / 4096;
	}
	/* Past the last section, and far past it: type 0, all zero. */
	for (uint32_t s = 5; s < 20; s++) {
		cpuid(0x12, s, r);
		CHECK_MSG(!r[0] && !r[1] && !r[2] && !r[3], "sub-leaf %u: %x %x %x %x", s, r[0],
			  r[1], r[2], r[3]);
	}
	cpuid(0x12, 0xffffffffU, r);
	CHECK(!r[0] && !r[1] && !r[2] && !r[3]);
	/* Each agrees with the model's own table. */
	for (uint32_t s = 0; s < 16; s++) {
		uint32_t m[4];

		cpuid(0x12, s, r);
		sgx_cpu_cpuid(cpu, s, m);
		CHECK_MEM(r, m, sizeof(r));
	}
out:
	sgx_cpu_destroy(cpu);
}

/* The other leaves are the host's, read before faulting was armed. */
TEST(other_leaves_are_the_hosts)
{
	static const uint32_t leaves[][2] = {
		{ 0, 0 },	   { 1, 0 },	      { 4, 0 },		 { 4, 1 },
		{ 4, 2 },	   { 6, 0 },	      { 0xd, 0 },	 { 0xd, 1 },
		{ 0xb, 0 },	   { 0xb, 1 },	      { 0x80000000U, 0 }, { 0x80000001U, 0 },
		{ 0x80000002U, 0 }, { 0x80000003U, 0 }, { 0x80000004U, 0 }, { 0x80000008U, 0 },
	};
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	uint32_t host[16][4], r[4];

	pin();
	for (int i = 0; i < 16; i++)
		cpuid(leaves[i][0], leaves[i][1], host[i]);
	if (!install(cpu))
		goto out;
	for (int i = 0; i < 16; i++) {
		cpuid(leaves[i][0], leaves[i][1], r);
		if (leaves[i][0] == 0 && host[i][0] < 0x12)
			host[i][0] = 0x12; /* the highest basic leaf reaches 0x12 */
		CHECK_MSG(!memcmp(r, host[i], sizeof(r)), "leaf %#x.%u: %x %x %x %x, host %x %x %x %x",
			  leaves[i][0], leaves[i][1], r[0], r[1], r[2], r[3], host[i][0], host[i][1],
			  host[i][2], host[i][3]);
	}
	/* The table the interception serves gives the same. */
	sgxrt_cpuid_answer(0x80000002U, 0, r);
	CHECK_MEM(r, host[12], sizeof(r));
out:
	sgx_cpu_destroy(cpu);
}

static void *thread_leaf7(void *arg)
{
	uint32_t *ebx = arg, r[4];

	cpuid(7, 0, r);
	*ebx = r[1];
	return NULL;
}

/* Threads started later and children of fork answer from the model;
 * execve resets faulting (the new image sees the host's CPUID). */
TEST(threads_and_fork_keep_it_execve_resets_it)
{
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	uint32_t host[4], ebx = 0;
	pthread_t th;
	int status, fds[2];
	char buf[64], fdstr[16], *argv[] = { "test_cpuid", NULL }, **envp;
	unsigned int got_ebx;
	long got_armed;
	ssize_t n;
	pid_t pid;

	cpuid(7, 0, host);
	if (!install(cpu))
		goto out;
	CHECK_EQ(pthread_create(&th, NULL, thread_leaf7, &ebx), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(ebx, host[1] | 4);

	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		uint32_t r[4];

		cpuid(7, 0, r);
		_exit(r[1] == (host[1] | 4) && syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0 ? 0 : 1);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK_EQ(status, 0);

	CHECK_EQ(pipe(fds), 0);
	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		size_t ne = 0;

		close(fds[0]);
		while (environ[ne])
			ne++;
		envp = calloc(ne + 2, sizeof(*envp));
		if (!envp)
			_exit(2);
		memcpy(envp, environ, ne * sizeof(*envp));
		snprintf(fdstr, sizeof(fdstr), "%d", fds[1]);
		envp[ne] = malloc(64);
		if (!envp[ne])
			_exit(2);
		snprintf(envp[ne], 64, "TEST_CPUID_REPORT_FD=%s", fdstr);
		execve("/proc/self/exe", argv, envp);
		_exit(3);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK_EQ(status, 0);
	CHECK_GT(n, 0);
	buf[n] = 0;
	CHECK_EQ(sscanf(buf, "%u %ld", &got_ebx, &got_armed), 2);
	CHECK_EQ(got_ebx, host[1]);
	CHECK_EQ(got_armed, 1); /* CPUID no longer faults */
out:
	sgx_cpu_destroy(cpu);
}

/* Where the host refuses (a seccomp filter answers ARCH_SET_CPUID with
 * ENODEV, as an AMD VM does): the error, with its line, and nothing
 * armed: CPUID stays the host's. */
TEST(no_faulting_is_a_clear_error)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_arch_prctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_SET_CPUID, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENODEV),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { sizeof(prog) / sizeof(prog[0]), prog };
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	uint32_t host[4], r[4];

	cpuid(7, 0, host);
	CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	CHECK_EQ(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog), 0);
	CHECK_EQ(sgxrt_cpuid_install(cpu), -ENODEV);
	CHECK(strstr(sgxrt_cpuid_strerror(-ENODEV), "cannot fault CPUID") != NULL);
	CHECK_NE(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0), 0);
	cpuid(7, 0, r);
	CHECK_MEM(r, host, sizeof(r));
	CHECK_EQ(sgxrt_cpuid_install(NULL), -EINVAL);
	sgx_cpu_destroy(cpu);
}

/* With CPUID faulting armed, the ENCLU trap (#UD here or #GP elsewhere)
 * and exceptions inside the enclave work as before. */
TEST(enclave_entry_and_exceptions_with_faulting_armed)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;
	uint32_t r[4];
	int ret;

	if (!install(sgx_core_cpu(core)))
		goto out;
	rt_build(core, 16, 0, 0, &e);
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_ADD, 40, 2, 0), 42);
	(void)rt_call_ex(&e, 1, SGX_ENCLU_EENTER, SAMPLE_OP_FAULT, SAMPLE_FAULT_UD2, 0, 0, &run, &ret);
	CHECK_EQ(ret, 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, X86_TRAP_UD);
	(void)rt_call_ex(&e, 2, SGX_ENCLU_EENTER, SAMPLE_OP_FAULT, SAMPLE_FAULT_READ, 0, 0, &run, &ret);
	CHECK_EQ(run.exception_vector, X86_TRAP_PF);
	CHECK_EQ(rt_call(&e, 3, SAMPLE_OP_ADD, 1, 2, 0), 3);
	cpuid(7, 0, r);
	CHECK(r[1] & 4);
	rt_destroy(&e);
out:
	rt_finish(core);
}

/* --- /proc/cpuinfo and sysfs ------------------------------------------- */

static char *cpuinfo_of(const struct sgx_cpu *cpu, const char *host)
{
	size_t len = strlen(host), need = sgxrt_cpuinfo_text(cpu, host, len, NULL, 0);
	char *out = malloc(need + 1);

	CHECK(out != NULL);
	CHECK_EQ(sgxrt_cpuinfo_text(cpu, host, len, out, need + 1), need);
	CHECK_EQ(strlen(out), need);
	return out;
}

static void check_cpuinfo(const struct sgx_cpu *cpu, const char *host, const char *want)
{
	char *out = cpuinfo_of(cpu, host);

	CHECK_STR(out, want);
	free(out);
}

static int token_at(const char *line, const char *tok)
{
	int i = 0;
	const char *p = strchr(line, ':') + 1;

	while (*p && *p != '\n') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " \n");
		if (n == strlen(tok) && !memcmp(p, tok, n))
			return i;
		p += n;
		i++;
	}
	return -1;
}

/* This host's text: every flags line gains both, at the kernel's places;
 * everything else is as it was. */
TEST(cpuinfo_of_this_host)
{
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	char *host = calloc(1, 1 << 20), *out, *line;
	size_t len = 0, flags_lines = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	size_t n;

	CHECK(host && f);
	while ((n = fread(host + len, 1, (1 << 20) - 1 - len, f)) > 0)
		len += n;
	fclose(f);
	out = cpuinfo_of(cpu, host);
	for (line = out; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
		if (strncmp(line, "flags", 5) || line[5] == ' ')
			continue;
		flags_lines++;
		CHECK_GE(token_at(line, "sgx"), 0);
		CHECK_GE(token_at(line, "sgx_lc"), 0);
		if (token_at(line, "tsc_adjust") >= 0)
			CHECK_EQ(token_at(line, "sgx"), token_at(line, "tsc_adjust") + 1);
		if (token_at(line, "bmi1") >= 0)
			CHECK_LT(token_at(line, "sgx"), token_at(line, "bmi1"));
		if (token_at(line, "rdpid") >= 0)
			CHECK_GT(token_at(line, "sgx_lc"), token_at(line, "rdpid"));
		if (token_at(line, "md_clear") >= 0)
			CHECK_LT(token_at(line, "sgx_lc"), token_at(line, "md_clear"));
	}
	{
		size_t processors = 0;

		for (line = host; (line = strstr(line, "processor\t:")); line++)
			processors++;
		CHECK_GT(processors, 0);
		CHECK_EQ(flags_lines, processors);
	}
	/* Without the two flags: the host's text. */
	{
		char *p;

		while ((p = strstr(out, " sgx_lc")))
			memmove(p, p + 7, strlen(p + 7) + 1);
		while ((p = strstr(out, " sgx ")))
			memmove(p, p + 4, strlen(p + 4) + 1);
		CHECK_STR(out, host);
	}
	free(out);
	free(host);
	sgx_cpu_destroy(cpu);
}

TEST(cpuinfo_places_and_edge_cases)
{
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE), *locked = model(SGX_LC_LOCKED);
	char small[16];

	check_cpuinfo(cpu, "processor\t: 0\nflags\t\t: fpu fsgsbase tsc_adjust bmi1 rdpid fsrm\n\n",
		      "processor\t: 0\nflags\t\t: fpu fsgsbase tsc_adjust sgx bmi1 rdpid sgx_lc fsrm\n\n");
	/* No anchor below: before the first above; none at all: the end. */
	check_cpuinfo(cpu, "flags\t\t: fpu avx2 umip md_clear\n",
		      "flags\t\t: fpu sgx avx2 umip sgx_lc md_clear\n");
	check_cpuinfo(cpu, "flags\t\t: fpu vme de\n", "flags\t\t: fpu vme de sgx sgx_lc\n");
	check_cpuinfo(cpu, "flags\t\t:\n", "flags\t\t: sgx sgx_lc\n");
	/* Already there: unchanged. */
	check_cpuinfo(cpu, "flags\t\t: fsgsbase sgx bmi1 rdpid sgx_lc\n",
		      "flags\t\t: fsgsbase sgx bmi1 rdpid sgx_lc\n");
	/* Other keys with flags in their name, and a text without a final
	 * newline. */
	check_cpuinfo(cpu, "vmx flags\t: ept vpid\nbugs\t\t: spectre_v1\nflags\t\t: fpu fsgsbase",
		      "vmx flags\t: ept vpid\nbugs\t\t: spectre_v1\nflags\t\t: fpu fsgsbase sgx sgx_lc");
	/* Launch control locked by the firmware: no sgx_lc. */
	check_cpuinfo(locked, "flags\t\t: fsgsbase bmi1 rdpid fsrm\n",
		      "flags\t\t: fsgsbase sgx bmi1 rdpid fsrm\n");
	/* snprintf's contract. */
	CHECK_EQ(sgxrt_cpuinfo_text(cpu, "flags\t\t: fpu\n", 13, small, sizeof(small)), 24);
	CHECK_STR(small, "flags\t\t: fpu sg");
	sgx_cpu_destroy(cpu);
	sgx_cpu_destroy(locked);
}

TEST(sgx_total_bytes_per_node)
{
	struct sgx_cpu *cpu = model(SGX_LC_WRITABLE);
	char buf[32], want[32];

	snprintf(want, sizeof(want), "%llu\n", (unsigned long long)(section_bytes[0] + section_bytes[2]));
	CHECK_EQ(sgxrt_sgx_total_bytes_text(cpu, 0, buf, sizeof(buf)), (int)strlen(want));
	CHECK_STR(buf, want);
	snprintf(want, sizeof(want), "%llu\n", (unsigned long long)section_bytes[1]);
	CHECK_EQ(sgxrt_sgx_total_bytes_text(cpu, 1, buf, sizeof(buf)), (int)strlen(want));
	CHECK_STR(buf, want);
	CHECK_EQ(sgxrt_sgx_total_bytes_text(cpu, 2, buf, sizeof(buf)), 2);
	CHECK_STR(buf, "0\n");
	CHECK_EQ(sgxrt_sgx_total_bytes_text(cpu, -1, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(sgxrt_sgx_total_bytes_text(cpu, SGX_EPC_MAX_NID, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(sgxrt_sgx_total_bytes_text(cpu, 0, buf, 4), -ENOSPC);
	CHECK_EQ(sgxrt_sgx_total_bytes_text(NULL, 0, buf, sizeof(buf)), -EINVAL);
	sgx_cpu_destroy(cpu);
}
