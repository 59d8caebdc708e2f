/*
 * core_helpers.h: machines, cores and enclaves for the tests of the SGX
 * core (sgxemu/core.h, encl.h): the reclaimer, backing accounting and
 * the tamper tests at the enclave level.
 *
 * Enclaves are built through the core's API (ECREATE, EADD, EINIT) with
 * page contents that are a function of (tag, page index, generation), so a
 * test can tell any page's expected bytes from a small record.  EINIT uses
 * the oracle's fixed test key (tests/vectors/oracle_key.pem) and a
 * SIGSTRUCT over the MRENCLAVE the signer computes for the same layout.
 * Header-only: each test executable includes it once.  Helpers end the
 * case with a message on failure.
 */
#ifndef SGXEMU_TEST_CORE_HELPERS_H
#define SGXEMU_TEST_CORE_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "sgxemu/cpu.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"
#include "harness.h"
#include "sgxemu/sign.h"

#define CH_KEY_PATH SGXEMU_TEST_DATA "/vectors/oracle_key.pem"

/* A machine of frames EPC pages, seeded fused keys, writable launch
 * control. */
static inline struct sgx_cpu *ch_machine(uint64_t frames)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, frames * SGX_PAGE_SIZE);
	cfg.seeded = true;
	memset(cfg.seed, 0x5a, sizeof(cfg.seed));
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

static inline struct sgx_core *ch_core(struct sgx_cpu *cpu, const struct sgx_core_config *cfg)
{
	struct sgx_core *core;

	CHECK_EQ(sgx_core_create(cpu, cfg, &core), 0);
	return core;
}

/* Open file descriptors of this process. */
static inline int ch_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CHECK(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* Deterministic page contents: 512 words from (tag, index, gen). */
static inline void ch_fill(void *buf, uint64_t tag, uint64_t index, uint64_t gen)
{
	uint64_t *w = buf;
	uint64_t s = (tag * 0x9E3779B97F4A7C15ULL) ^ (index << 20) ^ (gen << 44) ^ 0x1234567ULL;

	if (!s)
		s = 1;
	for (unsigned int i = 0; i < SGX_PAGE_SIZE / 8; i++)
		w[i] = harness_rand(&s);
}

static inline uint64_t ch_sum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Layout of a test enclave: nr_reg REG RW pages from offset 0, then nr_tcs
 * TCS pages; size the next power of two with room for both. */
struct ch_encl {
	struct sgx_encl *encl;
	uint64_t tag;
	uint64_t nr_reg;
	uint64_t nr_tcs;
	uint64_t size;
	uint64_t base;
};

static inline uint64_t ch_tcs_offset(const struct ch_encl *e, uint64_t i)
{
	return (e->nr_reg + i) * SGX_PAGE_SIZE;
}

static EVP_PKEY *ch_signing_key;

static inline EVP_PKEY *ch_key(void)
{
	char err[256];

	if (!ch_signing_key)
		CHECK_MSG(sgx_key_load(CH_KEY_PATH, &ch_signing_key, err, sizeof(err)) == 0, "%s",
			  err);
	return ch_signing_key;
}

/*
 * Builds (and with init, initializes) an enclave in core; the base is
 * spread by tag so enclaves differ.  Returns 0 or the first error of the
 * core (-ENOMEM when the EPC and backing are full), leaving nothing built.
 */
static inline int ch_build_ex(struct sgx_core *core, uint64_t tag, uint64_t nr_reg,
			      uint64_t nr_tcs, uint64_t min_size, bool init, struct ch_encl *out)
{
	struct sgx_layout layout;
	struct sgx_layout_page *lp;
	struct sgx_sign_params params;
	struct sgx_sigstruct sig;
	struct sgx_secinfo secinfo;
	struct sgx_secs secs;
	uint8_t page[SGX_PAGE_SIZE], mrenclave[32];
	uint64_t n = nr_reg + nr_tcs, size = 2 * SGX_PAGE_SIZE;
	int ret;

	while (size < n * SGX_PAGE_SIZE || size < min_size)
		size <<= 1;
	memset(out, 0, sizeof(*out));
	out->tag = tag;
	out->nr_reg = nr_reg;
	out->nr_tcs = nr_tcs;
	out->size = size;
	out->base = size * (1 + (tag % 64)); /* aligned to the size */

	memset(&secs, 0, sizeof(secs));
	secs.size = size;
	secs.base = out->base;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	secs.xfrm = SGX_XFRM_LEGACY;
	ret = sgx_encl_create(core, &secs, NULL, NULL, &out->encl);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < n; i++) {
		memset(&secinfo, 0, sizeof(secinfo));
		if (i < nr_reg) {
			ch_fill(page, tag, i, 0);
			secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
		} else {
			/* One SSA frame (at offset 0): EENTER refuses CSSA >= NSSA. */
			memset(page, 0, sizeof(page));
			((struct sgx_tcs *)page)->nr_ssa_frames = 1;
			secinfo.flags = SGX_SECINFO_TCS;
		}
		/* The first page is measured, the rest only added. */
		ret = sgx_encl_add_page(out->encl, i * SGX_PAGE_SIZE, page, &secinfo,
					i == 0 ? 0xFFFF : 0);
		if (ret)
			goto err;
	}
	if (!init)
		return 0;

	lp = calloc(n, sizeof(*lp));
	CHECK(lp);
	memset(&layout, 0, sizeof(layout));
	layout.size = size;
	layout.ssa_frame_size = 1;
	layout.attributes = secs.attributes;
	layout.xfrm = secs.xfrm;
	layout.nr_pages = n;
	layout.pages = lp;
	ch_fill(page, tag, 0, 0);
	for (uint64_t i = 0; i < n; i++) {
		lp[i].offset = i * SGX_PAGE_SIZE;
		lp[i].secinfo_flags = i < nr_reg ? SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W
						 : SGX_SECINFO_TCS;
		lp[i].measure = i == 0;
		lp[i].data = i == 0 ? page : NULL;
	}
	CHECK_EQ(sgx_layout_measure(&layout, mrenclave), 0);
	free(lp);
	memset(&params, 0, sizeof(params));
	params.date = 0x20250101;
	params.attributes = secs.attributes;
	params.xfrm = secs.xfrm;
	params.attributes_mask = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	params.xfrm_mask = SGX_XFRM_LEGACY;
	CHECK_EQ(sgx_sigstruct_sign(ch_key(), &params, mrenclave, &sig), 0);
	ret = sgx_encl_init(out->encl, &sig, NULL, NULL);
	if (ret)
		goto err;
	return 0;
err:
	sgx_encl_release(out->encl);
	out->encl = NULL;
	return ret;
}

static inline int ch_build(struct sgx_core *core, uint64_t tag, uint64_t nr_reg, uint64_t nr_tcs,
			   bool init, struct ch_encl *out)
{
	return ch_build_ex(core, tag, nr_reg, nr_tcs, 0, init, out);
}

/* The end of every test that builds enclaves: after the owners released
 * them, nothing is left: every frame free (or quarantined, or leaked as
 * expected), no valid EPCM entry but those, no backing charge, no VA
 * page, no enclave. */
static inline void ch_check_empty_ex(struct sgx_core *core, uint64_t poisoned, uint64_t leaked)
{
	struct sgx_core_stats st;
	char why[256];

	sgx_core_quiesce(core);
	CHECK_MSG(sgx_core_check(core, true, why, sizeof(why)) == 0, "%s", why);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.enclaves, 0);
	CHECK_EQ(st.epc_poisoned, poisoned);
	CHECK_EQ(st.epc_leaked, leaked);
	CHECK_EQ(st.epc_free + st.epc_poisoned + st.epc_leaked, st.epc_total);
	CHECK_EQ(sgx_cpu_nr_valid(sgx_core_cpu(core)), poisoned + leaked);
	CHECK_EQ(st.backing_charged, 0);
	CHECK_EQ(st.va_pages, 0);
	CHECK_EQ(st.va_slots_used, 0);
	CHECK_EQ(st.lru_pages, 0);
}

static inline void ch_check_empty(struct sgx_core *core, uint64_t poisoned)
{
	ch_check_empty_ex(core, poisoned, 0);
}

/* The end of every clean test: nothing left in the core (ch_check_empty),
 * no descriptor left open when fds >= 0 (the count taken at the start),
 * then the core and the machine go. */
static inline void ch_finish(struct sgx_core *core, struct sgx_cpu *cpu, int fds)
{
	ch_check_empty(core, 0);
	if (fds >= 0)
		CHECK_EQ(ch_count_fds(), fds);
	sgx_core_destroy(core);
	sgx_cpu_destroy(cpu);
}

#endif /* SGXEMU_TEST_CORE_HELPERS_H */
