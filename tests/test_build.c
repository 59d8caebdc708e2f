/*
 * test_build.c: the build leaves (ECREATE, EADD, EEXTEND, EREMOVE, EDBGRD,
 * EDBGWR) against the architecture's checks, table-driven: each refusal
 * with the fault or code it must give, and nothing left valid afterwards.
 */
#include <errno.h>
#include <stdlib.h>

#include "sgxemu/cpu.h"
#include "harness.h"

#define EPC_FRAMES 64
#define ENCL_SIZE (64 * 4096ULL)
#define ENCL_BASE 0x7f0000000000ULL

static struct sgx_cpu *machine(void)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

static void *frame(struct sgx_cpu *cpu, uint64_t i)
{
	return sgx_cpu_frame_addr(cpu, i);
}

/* Page-aligned scratch memory for sources. */
static void *page_alloc(void)
{
	void *p = NULL;

	CHECK_EQ(posix_memalign(&p, 4096, 4096), 0);
	memset(p, 0, 4096);
	return p;
}

static void secs_default(struct sgx_secs *s)
{
	memset(s, 0, sizeof(*s));
	s->size = ENCL_SIZE;
	s->base = ENCL_BASE;
	s->ssa_frame_size = 1;
	s->attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	s->xfrm = SGX_XFRM_LEGACY;
}

static int ecreate(struct sgx_cpu *cpu, const struct sgx_secs *src, void *epc)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = { 0 };
	void *page = page_alloc();
	int ret;

	memcpy(page, src, sizeof(*src));
	pginfo.contents = (uintptr_t)page;
	pginfo.metadata = (uintptr_t)&secinfo;
	ret = encls_ecreate(cpu, &pginfo, epc);
	free(page);
	return ret;
}

static int eadd(struct sgx_cpu *cpu, void *secs, void *epc, uint64_t addr, uint64_t flags,
		const void *src)
{
	struct sgx_secinfo secinfo = { .flags = flags };
	struct sgx_pageinfo pginfo = { 0 };
	void *page = page_alloc();
	int ret;

	if (src)
		memcpy(page, src, 4096);
	pginfo.addr = addr;
	pginfo.contents = (uintptr_t)page;
	pginfo.metadata = (uintptr_t)&secinfo;
	pginfo.secs = (uintptr_t)secs;
	ret = encls_eadd(cpu, &pginfo, epc);
	free(page);
	return ret;
}

/* Removes every valid page, children first, and checks none is left. */
static void teardown(struct sgx_cpu *cpu)
{
	CHECK_EQ(sgx_cpu_check(cpu), 0);
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < sgx_cpu_nr_frames(cpu); i++) {
			int ret = encls_eremove(cpu, frame(cpu, i));

			CHECK_MSG(ret == 0 || (pass == 0 && ret == SGX_CHILD_PRESENT),
				  "EREMOVE frame %llu: %s", (unsigned long long)i, sgx_error_name(ret));
		}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_cpu_destroy(cpu);
}

struct secs_case {
	const char *what;
	void (*mutate)(struct sgx_secs *s);
	int expect;
};

static void m_none(struct sgx_secs *s) { (void)s; }
static void m_size_odd(struct sgx_secs *s) { s->size = 3 * 4096; }
static void m_size_one_page(struct sgx_secs *s) { s->size = 4096; }
static void m_size_zero(struct sgx_secs *s) { s->size = 0; }
static void m_size_huge(struct sgx_secs *s) { s->size = 1ULL << 40; s->base = 0; }
static void m_base_unaligned(struct sgx_secs *s) { s->base += 4096; }
static void m_base_noncanonical(struct sgx_secs *s) { s->base = 0x0000800000000000ULL; }
static void m_attr_init(struct sgx_secs *s) { s->attributes |= SGX_ATTR_INIT; }
static void m_attr_reserved3(struct sgx_secs *s) { s->attributes |= 1ULL << 3; }
static void m_attr_reserved6(struct sgx_secs *s) { s->attributes |= 1ULL << 6; }
static void m_attr_reserved63(struct sgx_secs *s) { s->attributes |= 1ULL << 63; }
static void m_attr_32bit(struct sgx_secs *s) { s->attributes &= ~SGX_ATTR_MODE64BIT; }
static void m_misc_reserved(struct sgx_secs *s) { s->miscselect = 1U << 5; }
static void m_xfrm_no_sse(struct sgx_secs *s) { s->xfrm = SGX_XFRM_X87; }
static void m_xfrm_zero(struct sgx_secs *s) { s->xfrm = 0; }
static void m_xfrm_partial_avx512(struct sgx_secs *s) { s->xfrm = 0x3 | SGX_XFRM_AVX | (1ULL << 5); }
static void m_xfrm_avx512_no_avx(struct sgx_secs *s) { s->xfrm = 0x3 | SGX_XFRM_AVX512; }
static void m_xfrm_unsupported(struct sgx_secs *s) { s->xfrm = 0x3 | (1ULL << 17); }
static void m_ssa_zero(struct sgx_secs *s) { s->ssa_frame_size = 0; }
static void m_ssa_avx512_fits(struct sgx_secs *s)
{
	/* 2688 bytes of XSAVE + 16 EXINFO + 184 GPRSGX fit one page. */
	s->xfrm = SGX_XFRM_LEGACY | SGX_XFRM_AVX | SGX_XFRM_AVX512;
	s->miscselect = SGX_MISC_EXINFO;
	s->ssa_frame_size = 1;
}
static void m_config_without_kss(struct sgx_secs *s) { s->config_id[0] = 1; }
static void m_configsvn_without_kss(struct sgx_secs *s) { s->config_svn = 1; }
static void m_config_with_kss(struct sgx_secs *s)
{
	s->attributes |= SGX_ATTR_KSS;
	s->config_id[0] = 1;
	s->config_svn = 7;
}
static void m_reserved1(struct sgx_secs *s) { s->reserved1[3] = 1; }
static void m_reserved4(struct sgx_secs *s) { s->reserved4[100] = 1; }
static void m_mrenclave_ignored(struct sgx_secs *s) { memset(s->mrenclave, 0xAA, 32); }

static const struct secs_case secs_cases[] = {
	{ "sound SECS", m_none, 0 },
	{ "size not a power of two", m_size_odd, GP },
	{ "size one page", m_size_one_page, GP },
	{ "size zero", m_size_zero, GP },
	{ "size above CPUID's maximum", m_size_huge, GP },
	{ "base not aligned to size", m_base_unaligned, GP },
	{ "base not canonical", m_base_noncanonical, GP },
	{ "INIT attribute set", m_attr_init, GP },
	{ "reserved attribute bit 3", m_attr_reserved3, GP },
	{ "reserved attribute bit 6", m_attr_reserved6, GP },
	{ "reserved attribute bit 63", m_attr_reserved63, GP },
	{ "32-bit enclave (not modelled)", m_attr_32bit, GP },
	{ "reserved MISCSELECT bit", m_misc_reserved, GP },
	{ "XFRM without SSE", m_xfrm_no_sse, GP },
	{ "XFRM zero", m_xfrm_zero, GP },
	{ "XFRM with part of AVX-512", m_xfrm_partial_avx512, GP },
	{ "XFRM AVX-512 without AVX", m_xfrm_avx512_no_avx, GP },
	{ "XFRM bit the model lacks", m_xfrm_unsupported, GP },
	{ "SSA frame size zero", m_ssa_zero, GP },
	{ "AVX-512 state fits one SSA page", m_ssa_avx512_fits, 0 },
	{ "CONFIGID without KSS", m_config_without_kss, GP },
	{ "CONFIGSVN without KSS", m_configsvn_without_kss, GP },
	{ "CONFIGID with KSS", m_config_with_kss, 0 },
	{ "reserved1 nonzero", m_reserved1, GP },
	{ "reserved4 nonzero", m_reserved4, GP },
	{ "MRENCLAVE field is ignored", m_mrenclave_ignored, 0 },
};

TEST(ecreate_refusals)
{
	struct sgx_cpu *cpu = machine();

	for (size_t i = 0; i < sizeof(secs_cases) / sizeof(secs_cases[0]); i++) {
		struct sgx_secs s;
		int ret;

		secs_default(&s);
		secs_cases[i].mutate(&s);
		ret = ecreate(cpu, &s, frame(cpu, 0));
		CHECK_MSG(ret == secs_cases[i].expect, "%s: got %s, want %s", secs_cases[i].what,
			  sgx_error_name(ret), sgx_error_name(secs_cases[i].expect));
		CHECK_SGX(encls_eremove(cpu, frame(cpu, 0)), 0);
	}
	teardown(cpu);
}

/*
 * SDM, ECREATE: "DS:TMP_SECS.SIZE >= 2 ^ CPUID.(EAX=12H,ECX=0):EDX[15:8]"
 * faults, so the largest enclave is 2^(MaxEnclaveSize_64 - 1) bytes; and
 * "EPCM(DS:RCX).VALID = 1" (#PF) comes before the checks of the SECS
 * copied in (#GP), so a bad SECS onto a valid frame is #PF.
 */
TEST(ecreate_size_limit_and_epcm_first)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	struct sgx_secs s;
	uint32_t r[4];
	unsigned int max;

	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	for (unsigned int bits = 20; bits <= 36; bits += 16) {
		cfg.max_enclave_size_64 = (uint8_t)bits;
		CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
		sgx_cpu_cpuid(cpu, 0, r);
		max = (r[3] >> 8) & 0xFF;
		CHECK_EQ(max, bits);
		secs_default(&s);
		s.base = 0;
		s.size = 1ULL << max;
		CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), GP);
		CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
		s.size = 1ULL << (max - 1);
		CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), 0);
		CHECK_SGX(encls_eremove(cpu, frame(cpu, 0)), 0);
		teardown(cpu);
	}

	cpu = machine();
	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 1)), 0);
	for (size_t i = 0; i < sizeof(secs_cases) / sizeof(secs_cases[0]); i++) {
		int ret;

		if (!secs_cases[i].expect)
			continue;
		secs_default(&s);
		secs_cases[i].mutate(&s);
		ret = ecreate(cpu, &s, frame(cpu, 1));
		CHECK_MSG(ret == PF, "%s onto a valid frame: got %s, want #PF", secs_cases[i].what,
			  sgx_error_name(ret));
	}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 1);
	teardown(cpu);
}

TEST(ecreate_ssa_too_small_for_xfrm)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	struct sgx_secs s;

	/* With AMX the XSAVE area is 11008 bytes: an SSA frame needs 3 pages. */
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.xfrm_valid |= SGX_XFRM_AMX;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	secs_default(&s);
	s.xfrm = SGX_XFRM_LEGACY | SGX_XFRM_AMX;
	for (uint32_t pages = 0; pages <= 4; pages++) {
		s.ssa_frame_size = pages;
		CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), pages >= 3 ? 0 : GP);
		CHECK_SGX(encls_eremove(cpu, frame(cpu, 0)), 0);
	}
	/* Half of AMX is not a legal XFRM. */
	s.xfrm = SGX_XFRM_LEGACY | (1ULL << 18);
	s.ssa_frame_size = 4;
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), GP);
	teardown(cpu);
}

TEST(ecreate_operands)
{
	struct sgx_cpu *cpu = machine();
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = { 0 };
	struct sgx_secs s;
	uint8_t *page = page_alloc();
	uint8_t outside[8192] __attribute__((aligned(4096)));

	secs_default(&s);
	memcpy(page, &s, sizeof(s));
	pginfo.contents = (uintptr_t)page;
	pginfo.metadata = (uintptr_t)&secinfo;

	/* Target not in the EPC: #PF; not page aligned: #GP. */
	CHECK_SGX(encls_ecreate(cpu, &pginfo, outside), PF);
	CHECK_SGX(encls_ecreate(cpu, &pginfo, (uint8_t *)frame(cpu, 1) + 64), GP);
	/* Unused PAGEINFO fields must be zero. */
	pginfo.addr = 4096;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), GP);
	pginfo.addr = 0;
	pginfo.secs = (uintptr_t)frame(cpu, 2);
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), GP);
	pginfo.secs = 0;
	/* SECINFO must say SECS, with no permissions or reserved bits. */
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), GP);
	secinfo.flags = SGX_SECINFO_SECS | SGX_SECINFO_R;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), GP);
	secinfo.flags = SGX_SECINFO_SECS;
	secinfo.reserved[5] = 1;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), GP);
	secinfo.reserved[5] = 0;
	/* Source not page aligned. */
	pginfo.contents = (uintptr_t)page + 8;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), GP);
	pginfo.contents = (uintptr_t)page;
	/* Sound, then onto a valid page: #PF. */
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), 0);
	CHECK_SGX(encls_ecreate(cpu, &pginfo, frame(cpu, 1)), PF);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 1);
	free(page);
	teardown(cpu);
}

struct eadd_case {
	const char *what;
	uint64_t addr;
	uint64_t flags;
	int target; /* frame, -1 = outside the EPC */
	int secs; /* frame holding the SECS operand */
	int expect;
};

TEST(eadd_refusals)
{
	struct sgx_cpu *cpu = machine();
	uint8_t outside[4096] __attribute__((aligned(4096)));
	struct sgx_tcs *tcs = page_alloc();
	struct sgx_secs s;
	const struct eadd_case cases[] = {
		{ "REG RW", ENCL_BASE, SGX_SECINFO_REG | 3, 2, 0, 0 },
		{ "onto a used frame", ENCL_BASE + 4096, SGX_SECINFO_REG | 1, 2, 0, PF },
		{ "below the range", ENCL_BASE - 4096, SGX_SECINFO_REG | 1, 3, 0, GP },
		{ "past the range", ENCL_BASE + ENCL_SIZE, SGX_SECINFO_REG | 1, 3, 0, GP },
		{ "unaligned address", ENCL_BASE + 8, SGX_SECINFO_REG | 1, 3, 0, GP },
		{ "W without R", ENCL_BASE + 4096, SGX_SECINFO_REG | SGX_SECINFO_W, 3, 0, GP },
		{ "type SECS", ENCL_BASE + 4096, SGX_SECINFO_SECS, 3, 0, GP },
		{ "type VA", ENCL_BASE + 4096, SGX_SECINFO_VA, 3, 0, GP },
		{ "type TRIM", ENCL_BASE + 4096, SGX_SECINFO_TRIM, 3, 0, GP },
		{ "PENDING bit", ENCL_BASE + 4096, SGX_SECINFO_REG | 1 | SGX_SECINFO_PENDING, 3, 0, GP },
		{ "reserved flag bit", ENCL_BASE + 4096, SGX_SECINFO_REG | 1 | (1ULL << 40), 3, 0, GP },
		{ "SECS operand not a SECS", ENCL_BASE + 4096, SGX_SECINFO_REG | 1, 3, 2, PF },
		{ "SECS operand free", ENCL_BASE + 4096, SGX_SECINFO_REG | 1, 3, 9, PF },
		{ "target outside the EPC", ENCL_BASE + 4096, SGX_SECINFO_REG | 1, -1, 0, PF },
		{ "W without R onto a used frame", ENCL_BASE + 4096, SGX_SECINFO_REG | SGX_SECINFO_W, 2, 0, PF },
		{ "TCS", ENCL_BASE + 4096, SGX_SECINFO_TCS, 3, 0, 0 },
		/* EADD clears a TCS's R, W and X instead of refusing them. */
		{ "TCS with RWX", ENCL_BASE + 3 * 4096, SGX_SECINFO_TCS | 7, 5, 0, 0 },
	};

	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), 0);
	tcs->ssa_offset = 2 * 4096;
	tcs->nr_ssa_frames = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct eadd_case *c = &cases[i];
		void *target = c->target < 0 ? (void *)outside : frame(cpu, c->target);
		int ret = eadd(cpu, frame(cpu, c->secs), target, c->addr, c->flags,
			       (c->flags & SGX_SECINFO_PAGE_TYPE_MASK) == SGX_SECINFO_TCS ? tcs : NULL);

		CHECK_MSG(ret == c->expect, "%s: got %s, want %s", c->what, sgx_error_name(ret),
			  sgx_error_name(c->expect));
	}

	/* The TCS with RWX: its EPCM entry has no permissions. */
	{
		struct sgx_epcm_info info;

		CHECK_EQ(sgx_cpu_epcm_info(cpu, frame(cpu, 5), &info), 0);
		CHECK(info.valid);
		CHECK_EQ(info.type, SGX_PAGE_TYPE_TCS);
		CHECK_EQ(info.perms, 0);
	}

	/* A malformed TCS: reserved bytes fault (and, onto a valid frame, the
	 * frame's #PF comes first: the contents are checked after the EPCM). */
	tcs->reserved[10] = 1;
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 4), ENCL_BASE + 8192, SGX_SECINFO_TCS, tcs), GP);
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 3), ENCL_BASE + 8192, SGX_SECINFO_TCS, tcs), PF);
	tcs->reserved[10] = 0;
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 4);

	/* The SECS now has three children and cannot go. */
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 0)), SGX_CHILD_PRESENT);
	CHECK_EQ(sgx_cpu_check(cpu), 0);
	free(tcs);
	teardown(cpu);
}

/*
 * SDM, EADD, "For TCS pages, force EPCM.rwx bits to 0 and no debug
 * access": what sits in the EPC after EADD of a TCS whose STATE, DBGOPTIN,
 * CSSA and AEP are set.  EADD takes each of these TCSs: the checks it does
 * not make (reserved FLAGS bits, OSSA/OFSBASE/OGSBASE alignment, CSSA <
 * NSSA) are EENTER's (test_paging.c, eenter_checks_the_tcs).
 */
TEST(eadd_tcs_as_the_sdm_leaves_it)
{
	struct sgx_cpu *cpu = machine();
	struct sgx_tcs *tcs = page_alloc();
	const struct sgx_tcs *in_epc;
	struct sgx_secs s;
	struct {
		const char *what;
		uint64_t flags, ssa_offset, fs_offset, gs_offset;
		uint32_t nssa;
	} cases[] = {
		{ "sound", SGX_TCS_DBGOPTIN, 0, 0, 0, 1 },
		{ "reserved FLAGS bit", SGX_TCS_DBGOPTIN | (1ULL << 5), 0, 0, 0, 1 },
		{ "OSSA unaligned", 0, 100, 0, 0, 1 },
		{ "OFSBASE unaligned", 0, 0, 8, 0, 1 },
		{ "OGSBASE unaligned", 0, 0, 0, 0x800, 1 },
		{ "NSSA 0", 0, 0, 0, 0, 0 },
	};

	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(tcs, 0, 4096);
		tcs->state = 0x5A5A;
		tcs->flags = cases[i].flags;
		tcs->ssa_index = 3;
		tcs->nr_ssa_frames = cases[i].nssa;
		tcs->exit_addr = 0x1234567000ULL;
		tcs->ssa_offset = cases[i].ssa_offset;
		tcs->fs_offset = cases[i].fs_offset;
		tcs->gs_offset = cases[i].gs_offset;
		tcs->entry_offset = 0x777;
		CHECK_MSG(eadd(cpu, frame(cpu, 0), frame(cpu, 1 + i), ENCL_BASE + i * 4096,
			       SGX_SECINFO_TCS | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X,
			       tcs) == 0,
			  "%s: EADD refused it", cases[i].what);
		in_epc = sgx_cpu_frame_bytes(cpu, frame(cpu, 1 + i));
		CHECK_EQ(in_epc->state, 0);
		CHECK_EQ(in_epc->flags, cases[i].flags & ~SGX_TCS_DBGOPTIN);
		CHECK_EQ(in_epc->ssa_index, 0);
		CHECK_EQ(in_epc->exit_addr, 0);
		/* What EADD does not clear stays. */
		CHECK_EQ(in_epc->entry_offset, 0x777);
		CHECK_EQ(in_epc->nr_ssa_frames, cases[i].nssa);
		CHECK_EQ(in_epc->ssa_offset, cases[i].ssa_offset);
	}
	free(tcs);
	teardown(cpu);
}

TEST(eextend_and_debug_access)
{
	struct sgx_cpu *cpu = machine();
	uint8_t *data = page_alloc();
	struct sgx_secs s;
	uint64_t v = 0;

	for (int i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), 0);
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 1), ENCL_BASE, SGX_SECINFO_REG | 7, data), 0);
	for (int i = 0; i < 16; i++)
		CHECK_SGX(encls_eextend(cpu, frame(cpu, 0), (uint8_t *)frame(cpu, 1) + i * 256), 0);

	/* EEXTEND: unaligned chunk, a SECS, a free page, the wrong SECS. */
	CHECK_SGX(encls_eextend(cpu, frame(cpu, 0), (uint8_t *)frame(cpu, 1) + 128), GP);
	CHECK_SGX(encls_eextend(cpu, frame(cpu, 0), frame(cpu, 0)), PF);
	CHECK_SGX(encls_eextend(cpu, frame(cpu, 0), frame(cpu, 5)), PF);
	CHECK_SGX(encls_eextend(cpu, frame(cpu, 5), frame(cpu, 1)), GP);

	/* EDBGRD/EDBGWR on a debug enclave's page. */
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 1) + 8, &v), 0);
	CHECK_EQ(v, *(uint64_t *)(data + 8));
	CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)frame(cpu, 1) + 8, 0x1122334455667788ULL), 0);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 1) + 8, &v), 0);
	CHECK_EQ(v, 0x1122334455667788ULL);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 1) + 4, &v), GP);
	CHECK_SGX(encls_edbgrd(cpu, frame(cpu, 0), &v), PF);
	CHECK_SGX(encls_edbgrd(cpu, frame(cpu, 7), &v), PF);
	free(data);
	teardown(cpu);
}

/*
 * SDM, EDBGRD/EDBGWR: what each page answers.  A production enclave's
 * pages are #GP ("TMP_SECS.ATTRIBUTES.DEBUG = 0"), a SECS is #PF ("not
 * PT_REG, PT_TCS or PT_VA"), a VA slot reads as all ones when it holds a
 * version and as zero when free, and EDBGWR of a VA page is #PF; of a
 * TCS, EDBGRD reads below SGX_TCS_LIMIT and EDBGWR writes FLAGS only, any
 * other offset #GP.  SGX_PAGE_NOT_DEBUGGABLE is for PENDING and MODIFIED
 * pages, which only SGX2's leaves make; the model has none to read.
 */
TEST(debug_access_as_the_sdm_answers)
{
	struct sgx_cpu *cpu = machine();
	struct sgx_pcmd pcmd __attribute__((aligned(128)));
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	struct sgx_tcs *tcs = page_alloc();
	uint8_t *out = page_alloc();
	struct sgx_secs s;
	uint64_t v;

	/* A production enclave: frame 0 SECS, 1 REG, 2 TCS. */
	secs_default(&s);
	s.attributes &= ~SGX_ATTR_DEBUG;
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), 0);
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 1), ENCL_BASE, SGX_SECINFO_REG | 3, NULL), 0);
	tcs->nr_ssa_frames = 1;
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 2), ENCL_BASE + 4096, SGX_SECINFO_TCS, tcs), 0);
	CHECK_SGX(encls_edbgrd(cpu, frame(cpu, 1), &v), GP);
	CHECK_SGX(encls_edbgwr(cpu, frame(cpu, 1), 1), GP);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 2) + 8, &v), GP);
	CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)frame(cpu, 2) + 8, 1), GP);
	/* The TCS offset is checked before the enclave's DEBUG bit. */
	CHECK_SGX(encls_edbgwr(cpu, frame(cpu, 2), 1), GP);
	CHECK_SGX(encls_edbgrd(cpu, frame(cpu, 0), &v), PF);
	CHECK_SGX(encls_edbgwr(cpu, frame(cpu, 0), 1), PF);

	/* A debug enclave: frame 3 SECS, 4 REG, 5 TCS. */
	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 3)), 0);
	CHECK_SGX(eadd(cpu, frame(cpu, 3), frame(cpu, 4), ENCL_BASE, SGX_SECINFO_REG | 3, NULL), 0);
	tcs->entry_offset = 0x1234;
	tcs->gs_limit = 0xABCDEF;
	CHECK_SGX(eadd(cpu, frame(cpu, 3), frame(cpu, 5), ENCL_BASE + 4096, SGX_SECINFO_TCS, tcs), 0);
	CHECK_SGX(encls_edbgrd(cpu, frame(cpu, 3), &v), PF);
	CHECK_SGX(encls_edbgwr(cpu, frame(cpu, 3), 1), PF);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 5) + 32, &v), 0);
	CHECK_EQ(v, 0x1234);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 5) + SGX_TCS_LIMIT - 8, &v), 0);
	CHECK_EQ(v, 0xABCDEFULL << 32);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 5) + SGX_TCS_LIMIT, &v), GP);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 5) + 4088, &v), GP);
	for (size_t off = 0; off < 4096; off += 8)
		if (off != offsetof(struct sgx_tcs, flags))
			CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)frame(cpu, 5) + off, 0), GP);
	/* FLAGS takes the word as given; EENTER is the one that checks it. */
	CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)frame(cpu, 5) + 8, SGX_TCS_DBGOPTIN | (1ULL << 9)), 0);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 5) + 8, &v), 0);
	CHECK_EQ(v, SGX_TCS_DBGOPTIN | (1ULL << 9));

	/* A VA page (frame 6): a free slot reads 0, one holding a version
	 * all ones; it cannot be written. */
	CHECK_SGX(encls_epa(cpu, frame(cpu, 6)), 0);
	v = 42;
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 6) + 16, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)frame(cpu, 6) + 16, 1), PF);
	CHECK_SGX(encls_eblock(cpu, frame(cpu, 4)), 0);
	CHECK_SGX(encls_etrack(cpu, frame(cpu, 3)), 0);
	pginfo.contents = (uintptr_t)out;
	pginfo.metadata = (uintptr_t)&pcmd;
	CHECK_SGX(encls_ewb(cpu, &pginfo, frame(cpu, 4), (uint8_t *)frame(cpu, 6) + 16), 0);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 6) + 16, &v), 0);
	CHECK_EQ(v, ~0ULL);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 6) + 24, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 6) + 20, &v), GP);
	/* The written-back page's frame is free. */
	CHECK_SGX(encls_edbgrd(cpu, frame(cpu, 4), &v), PF);
	free(tcs);
	free(out);
	teardown(cpu);
}

TEST(eremove_states)
{
	struct sgx_cpu *cpu = machine();
	uint8_t outside[4096] __attribute__((aligned(4096)));
	struct sgx_secs s;

	/* A free frame: nothing to do, success. */
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 3)), 0);
	CHECK_SGX(encls_eremove(cpu, outside), PF);
	CHECK_SGX(encls_eremove(cpu, (uint8_t *)frame(cpu, 3) + 1), GP);
	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), 0);
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 1), ENCL_BASE, SGX_SECINFO_REG | 3, NULL), 0);
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 0)), SGX_CHILD_PRESENT);
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 1)), 0);
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 0)), 0);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	teardown(cpu);
}

TEST(poisoned_frame_machine_checks)
{
	struct sgx_cpu *cpu = machine();
	struct sgx_secs s;

	CHECK_EQ(sgx_cpu_poison(cpu, frame(cpu, 4)), 0);
	secs_default(&s);
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 4)), MC);
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 4)), MC);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_cpu_destroy(cpu);
}

TEST(cpuid_and_msrs)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	uint32_t r[4];
	uint64_t v;

	sgx_cpu_config_default(&cfg, 0);
	cfg.nr_sections = 3;
	cfg.sections[0].size = 16 * 4096;
	cfg.sections[1].size = 8 * 4096;
	cfg.sections[1].node = 1;
	cfg.sections[2].size = 4 * 4096;
	cfg.sections[2].node = 1;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	CHECK_EQ(sgx_cpu_nr_frames(cpu), 28);
	sgx_cpu_cpuid(cpu, 0, r);
	CHECK_EQ(r[0], SGX_CPUID_SGX1);
	CHECK_EQ(r[1], SGX_MISC_EXINFO);
	for (unsigned int i = 0; i < 3; i++) {
		uint64_t base, size;

		sgx_cpu_cpuid(cpu, 2 + i, r);
		CHECK_EQ(r[0] & 0xF, 1);
		base = (r[0] & 0xFFFFF000ULL) | ((uint64_t)(r[1] & 0xFFFFF) << 32);
		size = (r[2] & 0xFFFFF000ULL) | ((uint64_t)(r[3] & 0xFFFFF) << 32);
		CHECK_EQ(size, cfg.sections[i].size);
		CHECK_EQ(sgx_cpu_frame_index(cpu, (void *)(uintptr_t)base) >= 0, 1);
		CHECK_EQ(sgx_cpu_section_node(cpu, i), cfg.sections[i].node);
	}
	sgx_cpu_cpuid(cpu, 5, r);
	CHECK_EQ(r[0] & 0xF, 0);
	CHECK_EQ(sgx_cpu_rdmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0, &v), 0);
	CHECK_EQ(v, 0xa6053e051270b7acULL);
	CHECK_EQ(sgx_cpu_wrmsr(cpu, (MSR_IA32_SGXLEPUBKEYHASH0 + 2), 42), 0);
	CHECK_EQ(sgx_cpu_rdmsr(cpu, (MSR_IA32_SGXLEPUBKEYHASH0 + 2), &v), 0);
	CHECK_EQ(v, 42);
	CHECK_EQ(sgx_cpu_wrmsr(cpu, MSR_IA32_FEAT_CTL, 0), GP);
	CHECK_EQ(sgx_cpu_rdmsr(cpu, 0x10, &v), GP);
	sgx_cpu_destroy(cpu);

	/* Locked launch control: the MSRs cannot be written. */
	sgx_cpu_config_default(&cfg, 8 * 4096);
	cfg.lc_mode = SGX_LC_LOCKED;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	CHECK_EQ(sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0, 1), GP);
	sgx_cpu_destroy(cpu);

	/* Configurations the model refuses. */
	sgx_cpu_config_default(&cfg, 0);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	sgx_cpu_config_default(&cfg, 4096);
	cfg.nr_sections = 9;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	sgx_cpu_config_default(&cfg, 4096);
	cfg.sections[0].size = 4097;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
}

/*
 * CPUID leaf 12H says only what the model does: SGX1 without SGX2 (no
 * EAUG, EMODPR, EMODT, EACCEPT, EACCEPTCOPY, EMODPE), no 32-bit enclaves
 * (MaxEnclaveSize_Not64 0: ECREATE refuses them), no AEX-Notify among the
 * attributes; and a config that would claim more is refused.
 */
TEST(cpuid_claims_only_what_is_modelled)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	struct sgx_secs s;
	uint64_t attrs;
	uint32_t r[4];

	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	sgx_cpu_cpuid(cpu, 0, r);
	CHECK_EQ(r[0] & SGX_CPUID_SGX1, SGX_CPUID_SGX1);
	CHECK_EQ(r[0] & SGX_CPUID_SGX2, 0);
	CHECK_EQ(r[0] & ~SGX_CPUID_SGX1, 0);
	CHECK_EQ(r[3] & 0xFF, 0); /* MaxEnclaveSize_Not64 */
	CHECK_EQ((r[3] >> 8) & 0xFF, 36);
	sgx_cpu_cpuid(cpu, 1, r);
	attrs = r[0] | (uint64_t)r[1] << 32;
	CHECK_EQ(attrs & SGX_ATTR_AEXNOTIFY, 0);
	CHECK_EQ(attrs & SGX_ATTR_KSS, SGX_ATTR_KSS);
	CHECK_EQ(attrs & SGX_ATTR_MODE64BIT, SGX_ATTR_MODE64BIT);
	/* What CPUID does not offer, ECREATE does not take. */
	secs_default(&s);
	s.attributes |= SGX_ATTR_AEXNOTIFY;
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), GP);
	secs_default(&s);
	s.attributes &= ~SGX_ATTR_MODE64BIT;
	CHECK_SGX(ecreate(cpu, &s, frame(cpu, 0)), GP);
	teardown(cpu);

	/* Knobs turned on past the model. */
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.sgx2 = true;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.max_enclave_size_32 = 31;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.attributes_valid |= SGX_ATTR_AEXNOTIFY;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.attributes_valid |= 1ULL << 3;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.miscselect_valid |= 1U << 1;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), -EINVAL);
	/* Turning KSS off is a smaller claim, and allowed. */
	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	cfg.attributes_valid &= ~SGX_ATTR_KSS;
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	sgx_cpu_cpuid(cpu, 1, r);
	CHECK_EQ(r[0] & SGX_ATTR_KSS, 0);
	teardown(cpu);
}
