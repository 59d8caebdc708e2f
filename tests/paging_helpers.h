/*
 * paging_helpers.h: enclaves with TCS and REG pages, VA pages, and the
 * write-back/load steps the paging tests repeat.
 *
 * An enclave here is built with the leaves (ECREATE, EADD of TCS pages
 * then REG pages with known contents) and, when asked, signed and
 * initialized the way the kernel does it (einit_helpers.h), so that threads
 * can enter it.  A written-back page is kept as the triple the architecture
 * ties together: its encrypted contents, its PCMD and its VA slot.
 * Header-only: each test executable includes it once.
 */
#ifndef SGXEMU_TEST_PAGING_HELPERS_H
#define SGXEMU_TEST_PAGING_HELPERS_H

#include "einit_helpers.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define P_EPC_FRAMES 64
#define P_MAX_TCS 4
#define P_MAX_REG 16

struct p_encl {
	struct sgx_cpu *cpu;
	void *secs;
	unsigned int nr_tcs, nr_reg;
	void *tcs[P_MAX_TCS]; /* TCS i at base + i pages */
	void *reg[P_MAX_REG]; /* REG j at base + (nr_tcs + j) pages, RW */
	uint8_t fill;
};

/* A page as EWB left it outside the EPC. */
struct p_out {
	uint8_t *contents; /* 4096 bytes, page aligned */
	struct sgx_pcmd *pcmd; /* 128-byte aligned */
	uint64_t *slot; /* EPC address of its VA slot */
	uint64_t linaddr; /* for ELDU's PAGEINFO.LINADDR */
	void *secs; /* ELDU's PAGEINFO.SECS: NULL for SECS and VA pages */
};

static inline struct sgx_cpu *p_machine(void)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, P_EPC_FRAMES * 4096ULL);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

static inline uint64_t p_tcs_addr(const struct p_encl *e, unsigned int i)
{
	return T_ENCL_BASE + (uint64_t)i * 4096;
}

static inline uint64_t p_reg_addr(const struct p_encl *e, unsigned int j)
{
	return T_ENCL_BASE + (uint64_t)(e->nr_tcs + j) * 4096;
}

/* The contents REG page j of an enclave built with fill starts with. */
static inline void p_reg_contents(uint8_t fill, unsigned int j, uint8_t *page)
{
	t_page_fill(page, fill, j);
}

static inline struct t_spec p_spec(uint8_t fill)
{
	struct t_spec s = t_spec_default(fill);

	s.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	return s;
}

/* The build's layout, for MRENCLAVE: unmeasured pages, EADD records only. */
static inline void p_measure(const struct p_encl *e, uint8_t mrenclave[32])
{
	struct sgx_layout_page pages[P_MAX_TCS + P_MAX_REG];
	struct t_spec spec = p_spec(e->fill);
	struct sgx_layout layout = {
		.size = T_ENCL_SIZE,
		.ssa_frame_size = 1,
		.miscselect = spec.miscselect,
		.attributes = spec.attributes,
		.xfrm = spec.xfrm,
		.nr_pages = e->nr_tcs + e->nr_reg,
		.pages = pages,
	};

	for (unsigned int i = 0; i < e->nr_tcs + e->nr_reg; i++)
		pages[i] = (struct sgx_layout_page){
			.offset = (uint64_t)i * 4096,
			.secinfo_flags = i < e->nr_tcs ? SGX_SECINFO_TCS
						       : SGX_SECINFO_REG | SGX_SECINFO_R |
								 SGX_SECINFO_W,
			.measure = false,
			.data = NULL,
		};
	CHECK_EQ(sgx_layout_measure(&layout, mrenclave), 0);
}

/* ECREATE + EADD of nr_tcs TCS pages (copies of tcs, or when tcs is NULL
 * zero but for NSSA = 1) and nr_reg filled REG pages; EINIT too when init.
 * The TCS pages are not measured, so their contents do not change
 * MRENCLAVE. */
static inline void p_build_tcs(struct sgx_cpu *cpu, unsigned int nr_tcs, unsigned int nr_reg,
			       uint8_t fill, bool init, const struct sgx_tcs *tcs,
			       struct p_encl *e)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	struct t_spec spec = p_spec(fill);
	uint8_t *src = t_page_alloc();

	CHECK(nr_tcs <= P_MAX_TCS && nr_reg <= P_MAX_REG && nr_tcs + nr_reg <= 16);
	memset(e, 0, sizeof(*e));
	e->cpu = cpu;
	e->nr_tcs = nr_tcs;
	e->nr_reg = nr_reg;
	e->fill = fill;

	t_secs_of(&spec, (struct sgx_secs *)src);
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	e->secs = t_free_frame(cpu);
	CHECK_SGX(encls_ecreate(cpu, &pginfo, e->secs), 0);

	pginfo.secs = (uintptr_t)e->secs;
	for (unsigned int i = 0; i < nr_tcs + nr_reg; i++) {
		void *epc = t_free_frame(cpu);

		if (i < nr_tcs) {
			/* One SSA frame (at offset 0): EENTER refuses CSSA >= NSSA. */
			memset(src, 0, 4096);
			((struct sgx_tcs *)src)->nr_ssa_frames = 1;
			if (tcs)
				memcpy(src, tcs, 4096);
			secinfo.flags = SGX_SECINFO_TCS;
			e->tcs[i] = epc;
		} else {
			p_reg_contents(fill, i - nr_tcs, src);
			secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
			e->reg[i - nr_tcs] = epc;
		}
		pginfo.addr = T_ENCL_BASE + (uint64_t)i * 4096;
		CHECK_SGX(encls_eadd(cpu, &pginfo, epc), 0);
	}
	free(src);

	if (init) {
		struct sgx_sign_params p = t_params(&spec);
		uint8_t mrenclave[32];
		struct sgx_sigstruct *sig;
		EVP_PKEY *key = t_key_fixed();

		p_measure(e, mrenclave);
		sig = t_sign(key, &p, mrenclave);
		CHECK_SGX(t_einit_kernel(cpu, sig, e->secs), 0);
		free(sig);
		EVP_PKEY_free(key);
	}
}

static inline void p_build(struct sgx_cpu *cpu, unsigned int nr_tcs, unsigned int nr_reg,
			   uint8_t fill, bool init, struct p_encl *e)
{
	p_build_tcs(cpu, nr_tcs, nr_reg, fill, init, NULL, e);
}

/* A VA page in a free frame. */
static inline void *p_va(struct sgx_cpu *cpu)
{
	void *va = t_free_frame(cpu);

	CHECK_SGX(encls_epa(cpu, va), 0);
	return va;
}

static inline uint64_t *p_slot(void *va, unsigned int i)
{
	return (uint64_t *)va + i;
}

static inline void p_out_alloc(struct p_out *o)
{
	void *pcmd = NULL;

	memset(o, 0, sizeof(*o));
	o->contents = t_page_alloc();
	CHECK_EQ(posix_memalign(&pcmd, 128, 128), 0);
	memset(pcmd, 0, 128);
	o->pcmd = pcmd;
}

static inline void p_out_free(struct p_out *o)
{
	free(o->contents);
	free(o->pcmd);
	memset(o, 0, sizeof(*o));
}

/* Copies o's contents and PCMD (not its slot) into dst (allocated). */
static inline void p_out_copy(struct p_out *dst, const struct p_out *o)
{
	p_out_alloc(dst);
	memcpy(dst->contents, o->contents, 4096);
	memcpy(dst->pcmd, o->pcmd, 128);
	dst->slot = o->slot;
	dst->linaddr = o->linaddr;
	dst->secs = o->secs;
}

/* EWB alone, into o (allocated). */
static inline int p_ewb(struct sgx_cpu *cpu, void *epc, uint64_t *slot, struct p_out *o)
{
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };

	pginfo.contents = (uintptr_t)o->contents;
	pginfo.metadata = (uintptr_t)o->pcmd;
	o->slot = slot;
	return encls_ewb(cpu, &pginfo, epc, slot);
}

/* ELDU (or ELDB) of o into the free frame epc. */
static inline int p_eld(struct sgx_cpu *cpu, const struct p_out *o, void *epc, bool blocked)
{
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };

	pginfo.addr = o->linaddr;
	pginfo.contents = (uintptr_t)o->contents;
	pginfo.metadata = (uintptr_t)o->pcmd;
	pginfo.secs = (uintptr_t)o->secs;
	return blocked ? encls_eldb(cpu, &pginfo, epc, o->slot)
		       : encls_eldu(cpu, &pginfo, epc, o->slot);
}

/* The kernel's write-back of a child page: EBLOCK, ETRACK, EWB; every step
 * must succeed.  o receives the page (allocated by the caller). */
static inline void p_evict_child(struct sgx_cpu *cpu, void *secs, void *epc, uint64_t *slot,
				 struct p_out *o)
{
	struct sgx_epcm_info info;

	CHECK_EQ(sgx_cpu_epcm_info(cpu, epc, &info), 0);
	CHECK(info.valid);
	if (!info.blocked)
		CHECK_SGX(encls_eblock(cpu, epc), 0);
	CHECK_SGX(encls_etrack(cpu, secs), 0);
	CHECK_SGX(p_ewb(cpu, epc, slot, o), 0);
	o->linaddr = info.linaddr;
	o->secs = secs;
}

/* Write-back of a SECS or VA page (no blocking, no tracking). */
static inline void p_evict_root(struct sgx_cpu *cpu, void *epc, uint64_t *slot, struct p_out *o)
{
	CHECK_SGX(p_ewb(cpu, epc, slot, o), 0);
	o->linaddr = 0;
	o->secs = NULL;
}

static inline void p_info(struct sgx_cpu *cpu, const void *epc, struct sgx_epcm_info *info)
{
	CHECK_EQ(sgx_cpu_epcm_info(cpu, epc, info), 0);
}

/* The EPCM state a write-back and a load must carry over unchanged. */
static inline void p_check_same_info(const struct sgx_epcm_info *a, const struct sgx_epcm_info *b)
{
	CHECK_EQ(a->valid, b->valid);
	CHECK_EQ(a->blocked, b->blocked);
	CHECK_EQ(a->pending, b->pending);
	CHECK_EQ(a->modified, b->modified);
	CHECK_EQ(a->type, b->type);
	CHECK_EQ(a->perms, b->perms);
	CHECK_EQ(a->linaddr, b->linaddr);
	CHECK_EQ(a->enclave_id, b->enclave_id);
}

/* Cases run in a child that leaves by _exit(), where LeakSanitizer does
 * not look: this asks it, under ASan, whether the case or the library
 * leaked. */
static inline void p_no_leaks(void)
{
#ifdef __SANITIZE_ADDRESS__
	CHECK_MSG(__lsan_do_recoverable_leak_check() == 0, "memory leaked (report above)");
#endif
}

/* EREMOVEs everything, checks the EPC is empty, destroys the machine and
 * checks nothing leaked. */
static inline void p_teardown(struct sgx_cpu *cpu)
{
	t_teardown(cpu);
	p_no_leaks();
}

#endif
