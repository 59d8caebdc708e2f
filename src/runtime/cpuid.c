/*
 * cpuid.c: CPUID answered from the model (rt_cpuid.h) by the runtime's
 * SIGSEGV handler, and the /proc/cpuinfo and sgx_total_bytes texts.
 *
 * The answers follow the SDM's CPUID page (Vol. 2A, "CPUID—CPU
 * Identification": leaf 07H EBX bit 2 SGX, ECX bit 30 SGX_LC; leaf 12H
 * sub-leaf 0 SGX1/SGX2, MISCSELECT, MaxEnclaveSize_Not64/_64, sub-leaf 1
 * the valid SECS.ATTRIBUTES bits, sub-leaves 2 and up the EPC sections,
 * type 0000b "invalid: EDX:ECX:EBX:EAX return 0") and Vol. 3D 37.7.2
 * (enumerate from sub-leaf 2 until a sub-leaf of type 0).  The model's
 * sub-leaves are sgx_cpu_cpuid()'s, copied at install time so that the
 * handler reads only this file's table.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime/enclu_internal.h"
#include "sgxemu/epc.h"
#include "sgxemu/rt_cpuid.h"

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

#define CPUID_LEAF_SGX 0x12
#define LEAF7_EBX_SGX (1U << 2)
#define LEAF7_ECX_SGX_LC (1U << 30)
/* Sub-leaves 0, 1, one per section, and the first of type 0. */
#define NR_SUBLEAVES (SGX_CPUID_EPC + SGX_MAX_EPC_SECTIONS + 1)

static uint32_t leaf12[NR_SUBLEAVES][4]; /* written before model_ready */
static const struct sgx_cpu *_Atomic model_cpu;
static _Atomic bool model_ready;

static void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
			 : "a"(leaf), "c"(subleaf));
}

/* The host's answer on a thread that may be armed: faulting lifted for
 * the one instruction (ARCH_SET_CPUID acts on the calling thread only).
 * Raw system calls: async-signal-safe. */
static void host_cpuid_unarmed(uint32_t leaf, uint32_t subleaf, uint32_t regs[4], bool armed)
{
	if (armed)
		(void)syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	host_cpuid(leaf, subleaf, regs);
	if (armed)
		(void)syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}

static void answer(uint32_t leaf, uint32_t subleaf, uint32_t regs[4], bool armed)
{
	if (leaf == CPUID_LEAF_SGX && atomic_load(&model_ready)) {
		/* Past the last section every sub-leaf is of type 0. */
		if (subleaf < NR_SUBLEAVES)
			memcpy(regs, leaf12[subleaf], 4 * sizeof(uint32_t));
		else
			memset(regs, 0, 4 * sizeof(uint32_t));
		return;
	}
	host_cpuid_unarmed(leaf, subleaf, regs, armed);
	if (!atomic_load(&model_ready))
		return;
	if (leaf == 0 && regs[0] < CPUID_LEAF_SGX)
		regs[0] = CPUID_LEAF_SGX;
	if (leaf == 7 && subleaf == 0) {
		regs[1] |= LEAF7_EBX_SGX;
		regs[2] |= LEAF7_ECX_SGX_LC;
	}
}

void sgxrt_cpuid_answer(uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
	/* ARCH_GET_CPUID is 0 while CPUID faults. */
	answer(leaf, subleaf, regs, syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0);
}

bool sgxrt__is_cpuid(int signo, const siginfo_t *si, const ucontext_t *uc)
{
	const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];

	/* With faulting on, CPUID at CPL > 0 raises #GP(0) (SDM Vol. 4,
	 * MSR_MISC_FEATURES_ENABLES bit 0; AMD: CpuidUserDis). */
	return signo == SIGSEGV && si->si_code == SI_KERNEL &&
	       uc->uc_mcontext.gregs[REG_TRAPNO] == X86_TRAP_GP && atomic_load(&model_ready) &&
	       ip[0] == 0x0f && ip[1] == 0xa2;
}

bool sgxrt__cpuid_trap(int signo, const siginfo_t *si, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint32_t regs[4];

	if (!sgxrt__is_cpuid(signo, si, uc))
		return false;
	/* The trap says this thread is armed. */
	answer((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], regs, true);
	/* 32-bit results, zero-extended, as CPUID writes them. */
	g[REG_RAX] = (greg_t)regs[0];
	g[REG_RBX] = (greg_t)regs[1];
	g[REG_RCX] = (greg_t)regs[2];
	g[REG_RDX] = (greg_t)regs[3];
	g[REG_RIP] += 2;
	return true;
}

int sgxrt_cpuid_install(struct sgx_cpu *cpu)
{
	const struct sgx_cpu *expected = NULL;
	int ret;

	if (!cpu)
		return -EINVAL;
	ret = sgxrt_enclu_init(cpu);
	if (ret)
		return ret;
	/* The table first: a CPUID armed before it would find nothing. */
	if (!atomic_compare_exchange_strong(&model_cpu, &expected, cpu) && expected != cpu)
		return -EINVAL;
	if (!atomic_load(&model_ready)) {
		for (uint32_t s = 0; s < NR_SUBLEAVES; s++)
			sgx_cpu_cpuid(cpu, s, leaf12[s]);
		atomic_store(&model_ready, true);
	}
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0))
		return -errno;
	return 0;
}

const char *sgxrt_cpuid_strerror(int err)
{
	switch (err) {
	case 0:
		return "CPUID answers as an SGX machine of the emulated model";
	case -ENODEV:
		return "this host cannot fault CPUID (arch_prctl ARCH_SET_CPUID: ENODEV): programs "
		       "see the host's CPUID, without SGX in leaves 7 and 0x12";
	case -EINVAL:
		return "CPUID: no machine model, or another one than the runtime's";
	default:
		return "CPUID: the runtime's signal handlers could not be installed";
	}
}

/* --- /proc/cpuinfo ------------------------------------------------------ */

/* The kernel prints flags in the order of their feature bits
 * (show_cpuinfo() walks x86_cap_flags[]); SGX is word 9 bit 2 (CPUID
 * 7.0:EBX), SGX_LC word 16 bit 30 (CPUID 7.0:ECX).  Each new flag goes
 * after the last flag of its word below it, else before the first flag
 * above it (the rest of its word, then the words after), else at the
 * end.  The lists name the flags of arch/x86/include/asm/cpufeatures.h. */
static const char *const sgx_below[] = { "fsgsbase", "tsc_adjust", NULL };
static const char *const sgx_above[] = {
	/* word 9 */
	"bmi1", "hle", "avx2", "fdp_excptn_only", "smep", "bmi2", "erms", "invpcid", "rtm",
	"cqm", "zero_fcs_fds", "mpx", "rdt_a", "avx512f", "avx512dq", "rdseed", "adx", "smap",
	"avx512ifma", "clflushopt", "clwb", "intel_pt", "avx512pf", "avx512er", "avx512cd",
	"sha_ni", "avx512bw", "avx512vl",
	/* word 10 */
	"xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd",
	/* words 11 to 14 */
	"cqm_llc", "cqm_occup_llc", "cqm_mbm_total", "cqm_mbm_local", "split_lock_detect",
	"avx_vnni", "avx512_bf16", "cmpccxadd", "arch_perfmon_ext", "fzrm", "fsrs", "fsrc",
	"lkgs", "amx_fp16", "avx_ifma", "lam", "clzero", "irperf", "xsaveerptr", "rdpru",
	"wbnoinvd", "amd_ppin", "dtherm", "ida", "arat", "pln", "pts", "hwp", "hwp_notify",
	"hwp_act_window", "hwp_epp", "hwp_pkg_req", "hfi", NULL,
};
static const char *const sgx_lc_below[] = {
	/* word 16 */
	"avx512vbmi", "umip", "pku", "ospke", "waitpkg", "avx512_vbmi2", "shstk", "gfni",
	"vaes", "vpclmulqdq", "avx512_vnni", "avx512_bitalg", "tme", "avx512_vpopcntdq", "la57",
	"rdpid", "bus_lock_detect", "cldemote", "movdiri", "movdir64b", "enqcmd", NULL,
};
static const char *const sgx_lc_above[] = {
	"pks",
	/* word 17 */
	"overflow_recov", "succor", "smca",
	/* word 18 */
	"avx512_4vnniw", "avx512_4fmaps", "fsrm", "avx512_vp2intersect", "srbds_ctrl", "md_clear",
	"rtm_always_abort", "tsx_force_abort", "serialize", "hybrid_cpu", "tsxldtrk", "pconfig",
	"arch_lbr", "ibt", "amx_bf16", "avx512_fp16", "amx_tile", "amx_int8", "flush_l1d",
	"arch_capabilities", "core_capabilities",
	/* words 19 and 20 */
	"sme", "sev", "vm_page_flush", "sev_es", "sev_snp", "v_tsc_aux", "sme_coherent",
	"debug_swap", "no_nested_data_bp", "lfence_rdtsc", "null_sel_clr_base", "autoibrs",
	"no_smm_ctl_msr", "sbpb", "ibpb_brtype", "srso_no", NULL,
};

struct emit {
	char *out;
	size_t size, len;
};

static void emit(struct emit *e, const char *s, size_t n)
{
	if (e->len < e->size) {
		size_t room = e->size - e->len;

		memcpy(e->out + e->len, s, n < room ? n : room);
	}
	e->len += n;
}

static bool in_list(const char *const *list, const char *tok, size_t n)
{
	for (; *list; list++)
		if (strlen(*list) == n && !memcmp(*list, tok, n))
			return true;
	return false;
}

/* The flags of one line as tokens: start offsets and lengths. */
#define MAX_FLAGS 512
struct tokens {
	size_t nr, off[MAX_FLAGS], len[MAX_FLAGS];
};

static void tokenize(const char *s, size_t n, struct tokens *t)
{
	size_t i = 0;

	t->nr = 0;
	while (i < n && t->nr < MAX_FLAGS) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		t->off[t->nr] = i;
		while (i < n && s[i] != ' ')
			i++;
		t->len[t->nr] = i - t->off[t->nr];
		t->nr++;
	}
}

/* The token index before which name goes: nr for the end, or -1 when it
 * is there already. */
static long place(const char *s, const struct tokens *t, const char *name,
		  const char *const *below, const char *const *above)
{
	long after = -1;

	for (size_t i = 0; i < t->nr; i++) {
		if (t->len[i] == strlen(name) && !memcmp(s + t->off[i], name, t->len[i]))
			return -1;
		if (in_list(below, s + t->off[i], t->len[i]))
			after = (long)i;
	}
	if (after >= 0)
		return after + 1;
	for (size_t i = 0; i < t->nr; i++)
		if (in_list(above, s + t->off[i], t->len[i]))
			return (long)i;
	return (long)t->nr;
}

/* A "flags" line's value (after "flags\t\t: "), rewritten. */
static void emit_flags(struct emit *e, const char *s, size_t n, bool lc)
{
	struct tokens t;
	long at_sgx, at_lc;
	size_t from = 0;

	tokenize(s, n, &t);
	at_sgx = place(s, &t, "sgx", sgx_below, sgx_above);
	at_lc = lc ? place(s, &t, "sgx_lc", sgx_lc_below, sgx_lc_above) : -1;
	for (size_t i = 0; i <= t.nr; i++) {
		size_t end = i < t.nr ? t.off[i] : n;

		if ((long)i == at_sgx || (long)i == at_lc) {
			/* Up to the token, then the new flag and its space. */
			emit(e, s + from, end - from);
			from = end;
			if ((long)i == at_sgx)
				emit(e, i < t.nr ? "sgx " : " sgx", 4);
			if ((long)i == at_lc)
				emit(e, i < t.nr ? "sgx_lc " : " sgx_lc", 7);
		}
	}
	emit(e, s + from, n - from);
}

static bool is_flags_key(const char *line, size_t n, size_t *value)
{
	size_t i = 5;

	if (n < 5 || memcmp(line, "flags", 5))
		return false;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= n || line[i] != ':')
		return false;
	i++;
	if (i < n && line[i] == ' ')
		i++;
	*value = i;
	return true;
}

size_t sgxrt_cpuinfo_text(const struct sgx_cpu *cpu, const char *host, size_t len, char *out,
			  size_t size)
{
	bool lc = cpu && sgx_cpu_config(cpu)->lc_mode == SGX_LC_WRITABLE;
	struct emit e = { out, size ? size - 1 : 0, 0 };
	size_t at = 0;

	while (at < len) {
		const char *line = host + at, *nl = memchr(line, '\n', len - at);
		size_t n = nl ? (size_t)(nl - line) : len - at, value;

		if (is_flags_key(line, n, &value)) {
			emit(&e, line, value);
			emit_flags(&e, line + value, n - value, lc);
		} else {
			emit(&e, line, n);
		}
		if (nl)
			emit(&e, "\n", 1);
		at += n + (nl ? 1 : 0);
	}
	if (size)
		out[e.len < size - 1 ? e.len : size - 1] = 0;
	return e.len;
}

/* --- sysfs ------------------------------------------------------------ */

int sgxrt_sgx_total_bytes_text(const struct sgx_cpu *cpu, int nid, char *out, size_t size)
{
	const struct sgx_cpu_config *cfg;
	unsigned long long total = 0;
	int n;

	if (!cpu || nid < 0 || nid >= SGX_EPC_MAX_NID)
		return -EINVAL;
	cfg = sgx_cpu_config(cpu);
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		int node = sgx_cpu_section_node(cpu, i);

		if (node < 0 || node >= SGX_EPC_MAX_NID)
			node = 0;
		if (node == nid)
			total += cfg->sections[i].size;
	}
	n = snprintf(out, size, "%llu\n", total);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}
