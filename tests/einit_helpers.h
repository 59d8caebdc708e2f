/*
 * einit_helpers.h: small enclaves for the EINIT and EGETKEY tests.
 *
 * Builds an enclave of a few measured REG pages with the leaves (ECREATE,
 * EADD, EEXTEND), signs its MRENCLAVE as the software signer computes it
 * from the same layout, and offers the launch-control steps the kernel
 * takes (write IA32_SGXLEPUBKEYHASH, EINIT with a zero token).  Each
 * helper ends the case with a message on failure.  Header-only: each test
 * executable includes it once.
 */
#ifndef SGXEMU_TEST_EINIT_HELPERS_H
#define SGXEMU_TEST_EINIT_HELPERS_H

#include <openssl/evp.h>
#include <stdlib.h>

#include "sgxemu/cpu.h"
#include "harness.h"
#include "sgxemu/sign.h"

#define T_EPC_FRAMES 128
#define T_ENCL_BASE 0x7f0000000000ULL
#define T_ENCL_SIZE (16 * 4096ULL)
#define T_MAX_PAGES 8

/* What an enclave is made of: the SECS fields and a content seed. */
struct t_spec {
	uint64_t attributes; /* SECS.ATTRIBUTES (no INIT) */
	uint64_t xfrm;
	uint32_t miscselect;
	unsigned int nr_pages; /* 1..T_MAX_PAGES measured REG pages */
	uint8_t fill; /* page contents seed: two enclaves differ by it */
	uint8_t config_id0; /* CONFIGID[0] (KSS enclaves) */
	uint16_t config_svn;
};

struct t_encl {
	struct sgx_cpu *cpu;
	void *secs; /* EPC address of the SECS */
	void *pages[T_MAX_PAGES];
	unsigned int nr_pages;
	struct t_spec spec;
	uint8_t mrenclave[32]; /* as the signer measures the same layout */
};

static inline struct t_spec t_spec_default(uint8_t fill)
{
	struct t_spec s = {
		.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG,
		.xfrm = SGX_XFRM_LEGACY,
		.miscselect = 0,
		.nr_pages = 2,
		.fill = fill,
	};
	return s;
}

/* A machine with seeded fused keys and writable launch control unless
 * lc_locked, then locked to lehash. */
static inline struct sgx_cpu *t_machine(uint8_t seed, bool lc_locked, const uint8_t lehash[32])
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, T_EPC_FRAMES * 4096ULL);
	cfg.seeded = true;
	memset(cfg.seed, seed, sizeof(cfg.seed));
	if (lc_locked) {
		cfg.lc_mode = SGX_LC_LOCKED;
		memcpy(cfg.lepubkeyhash, lehash, 32);
	}
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

/* The first EPC frame not valid in the EPCM. */
static inline void *t_free_frame(struct sgx_cpu *cpu)
{
	for (uint64_t i = 0; i < sgx_cpu_nr_frames(cpu); i++) {
		struct sgx_epcm_info info;
		void *addr = sgx_cpu_frame_addr(cpu, i);

		CHECK_EQ(sgx_cpu_epcm_info(cpu, addr, &info), 0);
		if (!info.valid)
			return addr;
	}
	harness_fail(__FILE__, __LINE__, "no free EPC frame");
}

static inline void *t_page_alloc(void)
{
	void *p = NULL;

	CHECK_EQ(posix_memalign(&p, 4096, 4096), 0);
	memset(p, 0, 4096);
	return p;
}

static inline void t_page_fill(uint8_t *page, uint8_t fill, unsigned int index)
{
	for (unsigned int i = 0; i < 4096; i++)
		page[i] = (uint8_t)(fill * 31 + index * 7 + i * 13 + (i >> 8));
}

static inline void t_secs_of(const struct t_spec *spec, struct sgx_secs *s)
{
	memset(s, 0, sizeof(*s));
	s->size = T_ENCL_SIZE;
	s->base = T_ENCL_BASE;
	s->ssa_frame_size = 1;
	s->attributes = spec->attributes;
	s->xfrm = spec->xfrm;
	s->miscselect = spec->miscselect;
	s->config_id[0] = spec->config_id0;
	s->config_svn = spec->config_svn;
}

/* MRENCLAVE of the enclave t_build() builds, by the software signer. */
static inline void t_measure(const struct t_spec *spec, uint8_t mrenclave[32])
{
	struct sgx_layout_page pages[T_MAX_PAGES];
	uint8_t *data[T_MAX_PAGES];
	struct sgx_layout layout = {
		.size = T_ENCL_SIZE,
		.ssa_frame_size = 1,
		.miscselect = spec->miscselect,
		.attributes = spec->attributes,
		.xfrm = spec->xfrm,
		.nr_pages = spec->nr_pages,
		.pages = pages,
	};

	for (unsigned int i = 0; i < spec->nr_pages; i++) {
		data[i] = t_page_alloc();
		t_page_fill(data[i], spec->fill, i);
		pages[i] = (struct sgx_layout_page){
			.offset = (uint64_t)i * 4096,
			.secinfo_flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
			.measure = true,
			.data = data[i],
		};
	}
	CHECK_EQ(sgx_layout_measure(&layout, mrenclave), 0);
	for (unsigned int i = 0; i < spec->nr_pages; i++)
		free(data[i]);
}

/* ECREATE + EADD + EEXTEND of every chunk; the enclave is not initialized. */
static inline void t_build(struct sgx_cpu *cpu, const struct t_spec *spec, struct t_encl *e)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	uint8_t *src = t_page_alloc();
	int ret;

	CHECK(spec->nr_pages >= 1 && spec->nr_pages <= T_MAX_PAGES);
	memset(e, 0, sizeof(*e));
	e->cpu = cpu;
	e->spec = *spec;
	e->nr_pages = spec->nr_pages;
	t_measure(spec, e->mrenclave);

	t_secs_of(spec, (struct sgx_secs *)src);
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	e->secs = t_free_frame(cpu);
	ret = encls_ecreate(cpu, &pginfo, e->secs);
	CHECK_SGX(ret, 0);

	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	for (unsigned int i = 0; i < spec->nr_pages; i++) {
		t_page_fill(src, spec->fill, i);
		pginfo.addr = T_ENCL_BASE + (uint64_t)i * 4096;
		pginfo.secs = (uintptr_t)e->secs;
		e->pages[i] = t_free_frame(cpu);
		ret = encls_eadd(cpu, &pginfo, e->pages[i]);
		CHECK_SGX(ret, 0);
		for (unsigned int c = 0; c < 4096; c += SGX_EEXTEND_CHUNK) {
			ret = encls_eextend(cpu, e->secs, (uint8_t *)e->pages[i] + c);
			CHECK_SGX(ret, 0);
		}
	}
	free(src);
}

/* Keys: the oracle's fixed key from the vectors, or a fresh one. */
static inline EVP_PKEY *t_key_fixed(void)
{
	char err[256] = "";
	EVP_PKEY *key = NULL;
	int ret = sgx_key_load(SGXEMU_TEST_DATA "/vectors/oracle_key.pem", &key, err, sizeof(err));

	CHECK_MSG(ret == 0, "loading the fixed key: %s", err);
	return key;
}

static inline EVP_PKEY *t_key_new(void)
{
	EVP_PKEY *key = NULL;

	CHECK_EQ(sgx_key_generate(&key), 0);
	return key;
}

/* Signing parameters that state exactly the SECS of spec, every bit
 * enforced. */
static inline struct sgx_sign_params t_params(const struct t_spec *spec)
{
	struct sgx_sign_params p = {
		.vendor = 0,
		.date = 0x20251125,
		.miscselect = spec->miscselect,
		.misc_mask = 0xFFFFFFFF,
		.attributes = spec->attributes,
		.xfrm = spec->xfrm,
		.attributes_mask = ~0ULL,
		.xfrm_mask = ~0ULL,
		.isvprodid = 0x1234,
		.isvsvn = 7,
	};
	return p;
}

/* A page-aligned SIGSTRUCT (EINIT wants SIGSTRUCT 4K-aligned); free(). */
static inline struct sgx_sigstruct *t_sign(EVP_PKEY *key, const struct sgx_sign_params *p,
					   const uint8_t mrenclave[32])
{
	void *mem = NULL;

	CHECK_EQ(posix_memalign(&mem, 4096, 4096), 0);
	memset(mem, 0, 4096);
	CHECK_EQ(sgx_sigstruct_sign(key, p, mrenclave, mem), 0);
	return mem;
}

static inline struct sgx_sigstruct *t_sigdup(const struct sgx_sigstruct *s)
{
	void *mem = NULL;

	CHECK_EQ(posix_memalign(&mem, 4096, 4096), 0);
	memcpy(mem, s, sizeof(*s));
	return mem;
}

static inline void t_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	CHECK(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL));
}

/* The kernel's step before EINIT: IA32_SGXLEPUBKEYHASH := hash.  Returns
 * what the first WRMSR returned (0 or #GP). */
static inline int t_wrmsr_hash(struct sgx_cpu *cpu, const uint8_t hash[32])
{
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v;
		int ret;

		memcpy(&v, hash + 8 * i, 8);
		ret = sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, v);
		if (ret)
			return ret;
	}
	return 0;
}

static inline int t_einit(struct sgx_cpu *cpu, const struct sgx_sigstruct *sig,
			  const struct sgx_einittoken *token, void *secs)
{
	static const struct sgx_einittoken zero;

	return encls_einit(cpu, sig, token ? token : &zero, secs);
}

/* The Linux driver's EINIT: MSRs := SHA-256(modulus), zero token. */
static inline int t_einit_kernel(struct sgx_cpu *cpu, const struct sgx_sigstruct *sig, void *secs)
{
	uint8_t hash[32];
	int ret;

	t_sha256(sig->modulus, sizeof(sig->modulus), hash);
	ret = t_wrmsr_hash(cpu, hash);
	if (ret)
		return ret;
	return t_einit(cpu, sig, NULL, secs);
}

/* Builds, signs with key, and initializes the way the kernel does. */
static inline void t_build_init(struct sgx_cpu *cpu, EVP_PKEY *key, const struct t_spec *spec,
				struct t_encl *e)
{
	struct sgx_sign_params p = t_params(spec);
	struct sgx_sigstruct *sig;

	t_build(cpu, spec, e);
	sig = t_sign(key, &p, e->mrenclave);
	CHECK_SGX(t_einit_kernel(cpu, sig, e->secs), 0);
	free(sig);
}

/* EREMOVEs every valid page, children first, checks the EPC is empty and
 * destroys the machine. */
static inline void t_teardown(struct sgx_cpu *cpu)
{
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < sgx_cpu_nr_frames(cpu); i++) {
			int ret = encls_eremove(cpu, sgx_cpu_frame_addr(cpu, i));

			CHECK_MSG(ret == 0 || (pass == 0 && ret == SGX_CHILD_PRESENT),
				  "EREMOVE frame %llu: %s", (unsigned long long)i,
				  sgx_error_name(ret));
		}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	sgx_cpu_destroy(cpu);
}

/* AES-128-CMAC, computed here apart from the emulator's. */
static inline void t_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16])
{
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("cipher", cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
	size_t n = 0;

	CHECK(ctx);
	CHECK(EVP_MAC_init(ctx, key, 16, params));
	CHECK(EVP_MAC_update(ctx, data, len));
	CHECK(EVP_MAC_final(ctx, mac, &n, 16));
	CHECK_EQ(n, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
}

#endif
