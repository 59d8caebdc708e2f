/*
 * test_einit.c: EINIT and launch control.
 *
 * Small enclaves are built with the build leaves and signed with the
 * software signer; EINIT must accept what is sound and refuse the rest
 * with the SDM's fault or code, leave a refused SECS initializable, and
 * apply launch control both ways: writable IA32_SGXLEPUBKEYHASH (the
 * kernel's wrmsr-then-EINIT) and MSRs locked to a launch enclave's key,
 * which then issues EINITTOKENs MACed with the launch key EGETKEY gives it.
 */
#include <pthread.h>

#include "einit_helpers.h"

/* --- EINIT, writable launch control --------------------------------------- */

TEST(einit_ok_sets_identity)
{
	struct sgx_cpu *cpu = t_machine(1, false, NULL);
	struct t_spec spec = t_spec_default(1);
	struct sgx_sign_params p = t_params(&spec);
	EVP_PKEY *key = t_key_fixed();
	struct sgx_sigstruct *sig;
	const struct sgx_secs *secs;
	uint8_t mrsigner[32];
	struct t_encl e;

	t_build(cpu, &spec, &e);
	sig = t_sign(key, &p, e.mrenclave);
	t_sha256(sig->modulus, sizeof(sig->modulus), mrsigner);
	CHECK_SGX(t_einit_kernel(cpu, sig, e.secs), 0);

	/* The SECS as EREPORT will see it. */
	secs = e.secs;
	CHECK_MEM(secs->mrenclave, e.mrenclave, 32);
	CHECK_MEM(secs->mrsigner, mrsigner, 32);
	CHECK_EQ(secs->isv_prod_id, p.isvprodid);
	CHECK_EQ(secs->isv_svn, p.isvsvn);
	CHECK_EQ(secs->attributes, spec.attributes | SGX_ATTR_INIT);

	/* Initialized once: a second EINIT faults, and the build is closed. */
	CHECK_SGX(t_einit_kernel(cpu, sig, e.secs), GP);
	free(sig);
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* One refusal: how to spoil the SIGSTRUCT, the MSRs or the operands. */
struct refusal {
	const char *what;
	/* Changes the sound SIGSTRUCT (re-signed by the case when resign). */
	void (*mutate)(struct sgx_sigstruct *s, struct sgx_sign_params *p);
	bool resign;
	int expect;
};

static void r_header1(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->header.header1[0] ^= 1; }
static void r_header2(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->header.header2[1] = 0; }
static void r_vendor(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->header.vendor = 0x1234; }
static void r_exponent(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->exponent = 65537; }
static void r_reserved1(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->header.reserved1[5] = 1; }
static void r_reserved3_first(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->body.reserved3[0] = 1; }
static void r_reserved3(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->body.reserved3[15] = 1; }
static void r_familyid(struct sgx_sigstruct *s, struct sgx_sign_params *p) { p->isvfamilyid[15] = 1; }
static void r_extprodid(struct sgx_sigstruct *s, struct sgx_sign_params *p) { p->isvextprodid[0] = 1; }
static void r_reserved4(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->reserved4[11] = 1; }
static void r_signature(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->signature[100] ^= 0x40; }
static void r_signed_date(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->header.date++; }
static void r_q1(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->q1[0] ^= 1; }
static void r_q2(struct sgx_sigstruct *s, struct sgx_sign_params *p) { s->q2[383] ^= 1; }
static void r_other_image(struct sgx_sigstruct *s, struct sgx_sign_params *p)
{
	struct t_spec other = t_spec_default(99);

	t_measure(&other, s->body.mrenclave);
}
static void r_attr_debug_off(struct sgx_sigstruct *s, struct sgx_sign_params *p)
{
	p->attributes &= ~SGX_ATTR_DEBUG; /* signer wants production; SECS is debug */
}
static void r_attr_unmasked(struct sgx_sigstruct *s, struct sgx_sign_params *p)
{
	/* The same disagreement, but DEBUG is outside the mask: accepted. */
	p->attributes &= ~SGX_ATTR_DEBUG;
	p->attributes_mask &= ~SGX_ATTR_DEBUG;
}
static void r_attr_extra(struct sgx_sigstruct *s, struct sgx_sign_params *p)
{
	p->attributes |= SGX_ATTR_PROVISIONKEY;
}
static void r_xfrm(struct sgx_sigstruct *s, struct sgx_sign_params *p) { p->xfrm |= SGX_XFRM_AVX; }
static void r_misc(struct sgx_sigstruct *s, struct sgx_sign_params *p) { p->miscselect = SGX_MISC_EXINFO; }
static void r_misc_unmasked(struct sgx_sigstruct *s, struct sgx_sign_params *p)
{
	p->miscselect = SGX_MISC_EXINFO;
	p->misc_mask = 0;
}

static const struct refusal refusals[] = {
	{ "header1 changed", r_header1, false, SGX_INVALID_SIG_STRUCT },
	{ "header2 changed", r_header2, false, SGX_INVALID_SIG_STRUCT },
	{ "vendor 0x1234", r_vendor, false, SGX_INVALID_SIG_STRUCT },
	{ "exponent 65537", r_exponent, false, SGX_INVALID_SIG_STRUCT },
	{ "reserved1 nonzero", r_reserved1, false, SGX_INVALID_SIG_STRUCT },
	{ "reserved3 (byte 992) nonzero", r_reserved3_first, false, SGX_INVALID_SIG_STRUCT },
	{ "reserved3 (byte 1007) nonzero", r_reserved3, false, SGX_INVALID_SIG_STRUCT },
	/* SDM, EINIT: "Verify ISVFAMILYID is not used on an enclave with KSS
	 * disabled"; no such rule for ISVEXTPRODID. */
	{ "ISVFAMILYID without KSS", r_familyid, true, SGX_INVALID_SIG_STRUCT },
	{ "ISVEXTPRODID without KSS", r_extprodid, true, 0 },
	{ "reserved4 nonzero", r_reserved4, false, SGX_INVALID_SIG_STRUCT },
	{ "signature bit flipped", r_signature, false, SGX_INVALID_SIGNATURE },
	{ "signed date changed", r_signed_date, false, SGX_INVALID_SIGNATURE },
	{ "Q1 changed", r_q1, false, SGX_INVALID_SIGNATURE },
	{ "Q2 changed", r_q2, false, SGX_INVALID_SIGNATURE },
	{ "signed for another image", r_other_image, true, SGX_INVALID_MEASUREMENT },
	{ "attributes: DEBUG required off", r_attr_debug_off, true, SGX_INVALID_ATTRIBUTE },
	{ "attributes: DEBUG off but unmasked", r_attr_unmasked, true, 0 },
	{ "attributes: PROVISIONKEY required", r_attr_extra, true, SGX_INVALID_ATTRIBUTE },
	{ "xfrm: AVX required", r_xfrm, true, SGX_INVALID_ATTRIBUTE },
	{ "miscselect: EXINFO required", r_misc, true, SGX_INVALID_ATTRIBUTE },
	{ "miscselect: EXINFO but unmasked", r_misc_unmasked, true, 0 },
};

/* Every refusal leaves the SECS initializable: the sound SIGSTRUCT then
 * initializes it. */
TEST(einit_refusals_table)
{
	struct sgx_cpu *cpu = t_machine(2, false, NULL);
	struct t_spec spec = t_spec_default(2);
	EVP_PKEY *key = t_key_fixed();

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct sgx_sign_params p = t_params(&spec);
		struct sgx_sigstruct *sound, *bad;
		struct t_encl e;
		int ret;

		t_build(cpu, &spec, &e);
		sound = t_sign(key, &p, e.mrenclave);
		bad = t_sigdup(sound);
		r->mutate(bad, &p);
		if (r->resign) {
			uint8_t mrenclave[32];

			memcpy(mrenclave, bad->body.mrenclave, 32);
			free(bad);
			bad = t_sign(key, &p, mrenclave);
		}
		ret = t_einit_kernel(cpu, bad, e.secs);
		CHECK_MSG(ret == r->expect, "%s: got %s, want %s", r->what, sgx_error_name(ret),
			  sgx_error_name(r->expect));
		if (r->expect)
			CHECK_MSG(t_einit_kernel(cpu, sound, e.secs) == 0,
				  "%s: the sound SIGSTRUCT no longer initializes", r->what);
		printf("  ok: %s -> %s\n", r->what, sgx_error_name(ret));
		free(sound);
		free(bad);
	}
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

TEST(einit_launch_refusals)
{
	struct sgx_cpu *cpu = t_machine(3, false, NULL);
	struct t_spec spec = t_spec_default(3);
	struct sgx_sign_params p = t_params(&spec);
	EVP_PKEY *key = t_key_fixed();
	struct sgx_einittoken token = { 0 };
	struct sgx_sigstruct *sig;
	uint8_t other[32];
	struct t_encl e;

	t_build(cpu, &spec, &e);
	sig = t_sign(key, &p, e.mrenclave);

	/* MSRs at their reset value (Intel's hash), no token. */
	CHECK_SGX(t_einit(cpu, sig, NULL, e.secs), SGX_INVALID_EINITTOKEN);
	/* MSRs hold another signer's hash. */
	memset(other, 0x5A, sizeof(other));
	CHECK_SGX(t_wrmsr_hash(cpu, other), 0);
	CHECK_SGX(t_einit(cpu, sig, NULL, e.secs), SGX_INVALID_EINITTOKEN);
	/* A VALID token that is garbage: the MAC does not verify. */
	token.valid = 1;
	memcpy(token.mrenclave, e.mrenclave, 32);
	CHECK_SGX(t_einit(cpu, sig, &token, e.secs), SGX_INVALID_EINITTOKEN);
	/* EINITTOKENKEY needs the signer's hash in the MSRs even with VALID=0:
	 * covered in the launch-control tests below. */
	CHECK_SGX(t_einit_kernel(cpu, sig, e.secs), 0);
	free(sig);
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

TEST(einit_operands)
{
	struct sgx_cpu *cpu = t_machine(4, false, NULL);
	struct t_spec spec = t_spec_default(4);
	struct sgx_sign_params p = t_params(&spec);
	EVP_PKEY *key = t_key_fixed();
	static struct sgx_einittoken token;
	struct sgx_sigstruct *sig;
	uint8_t *misaligned, hash[32], outside[8192] __attribute__((aligned(4096)));
	struct t_encl e;

	t_build(cpu, &spec, &e);
	sig = t_sign(key, &p, e.mrenclave);
	t_sha256(sig->modulus, sizeof(sig->modulus), hash);
	CHECK_SGX(t_wrmsr_hash(cpu, hash), 0);

	misaligned = malloc(4096 + sizeof(*sig) + 64);
	CHECK(misaligned);
	memcpy((uint8_t *)(((uintptr_t)misaligned + 4095) & ~4095UL) + 64, sig, sizeof(*sig));
	CHECK_SGX(encls_einit(cpu, (void *)((((uintptr_t)misaligned + 4095) & ~4095UL) + 64),
			      &token, e.secs), GP);
	CHECK_SGX(encls_einit(cpu, sig, (void *)((uint8_t *)&token + 64), e.secs), GP);
	CHECK_SGX(encls_einit(cpu, sig, &token, (uint8_t *)e.secs + 64), GP);
	/* The SECS operand must be an EPC page that is a valid SECS. */
	CHECK_SGX(encls_einit(cpu, sig, &token, outside), PF);
	CHECK_SGX(encls_einit(cpu, sig, &token, e.pages[0]), PF);
	CHECK_SGX(encls_einit(cpu, sig, &token, t_free_frame(cpu)), PF);
	CHECK_SGX(encls_einit(cpu, NULL, &token, e.secs), PF);
	/* None of these touched the enclave. */
	CHECK_SGX(encls_einit(cpu, sig, &token, e.secs), 0);
	CHECK_SGX(encls_einit(cpu, sig, &token, e.secs), GP);
	free(misaligned);
	free(sig);
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* Sound SIGSTRUCTs of every kind initialize: vendors, dates, SWDEFINED,
 * product ids and SVNs, masks that leave bits free. */
TEST(einit_accepts_sound_sigstructs)
{
	struct sgx_cpu *cpu = t_machine(5, false, NULL);
	EVP_PKEY *key = t_key_fixed();
	static const struct {
		uint32_t vendor, date, swdefined;
		uint16_t isvprodid, isvsvn;
		uint64_t attributes_mask;
		uint32_t misc_mask;
		uint64_t attributes;
	} table[] = {
		{ 0, 0x20251125, 0, 0, 0, ~0ULL, ~0U, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG },
		{ 0x8086, 0x19991231, 0xdeadbeef, 0xFFFF, 0xFFFF, ~0ULL, ~0U, SGX_ATTR_MODE64BIT },
		{ 0, 0, 1, 1, 1, 0, 0, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG },
		{ 0x8086, 0x20000101, 7, 42, 3, SGX_ATTR_DEBUG, 1, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG },
		{ 0, 0x20300101, 0, 9, 9, ~0ULL, ~0U,
		  SGX_ATTR_MODE64BIT | SGX_ATTR_PROVISIONKEY },
		{ 0, 0x20300101, 0, 9, 9, ~0ULL, ~0U, SGX_ATTR_MODE64BIT | SGX_ATTR_KSS },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct t_spec spec = t_spec_default((uint8_t)(10 + i));
		struct sgx_sign_params p;
		struct sgx_sigstruct *sig;
		const struct sgx_secs *secs;
		struct t_encl e;

		spec.attributes = table[i].attributes;
		p = t_params(&spec);
		p.vendor = table[i].vendor;
		p.date = table[i].date;
		p.swdefined = table[i].swdefined;
		p.isvprodid = table[i].isvprodid;
		p.isvsvn = table[i].isvsvn;
		p.attributes_mask = table[i].attributes_mask;
		p.misc_mask = table[i].misc_mask;
		p.attributes &= p.attributes_mask;
		t_build(cpu, &spec, &e);
		sig = t_sign(key, &p, e.mrenclave);
		CHECK_MSG(t_einit_kernel(cpu, sig, e.secs) == 0, "sound SIGSTRUCT %zu refused", i);
		secs = e.secs;
		CHECK_EQ(secs->isv_prod_id, table[i].isvprodid);
		CHECK_EQ(secs->isv_svn, table[i].isvsvn);
		printf("  ok: sound SIGSTRUCT %zu (vendor %#x, prodid %u, svn %u)\n", i,
		       table[i].vendor, table[i].isvprodid, table[i].isvsvn);
		free(sig);
	}
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/*
 * The code a single-byte change at off must give, by the SDM's order: the
 * structure check (header words, vendor, exponent, reserved fields) before
 * the signature, and every other byte of the signed regions, the modulus,
 * the signature, Q1 and Q2 a signature failure.
 */
static int expected_for_offset(size_t off)
{
	static const struct {
		size_t from, to;
	} structural[] = {
		{ 0, 16 }, /* HEADER */
		{ 16, 20 }, /* VENDOR: 0 changed in one byte is neither 0 nor 8086h */
		{ 24, 40 }, /* HEADER2 */
		{ 44, 128 }, /* reserved */
		{ 512, 516 }, /* EXPONENT */
		{ 992, 1008 }, /* reserved; 908..927 and 1008..1023 are not */
		{ 1028, 1040 }, /* reserved */
	};

	for (size_t i = 0; i < sizeof(structural) / sizeof(structural[0]); i++)
		if (off >= structural[i].from && off < structural[i].to)
			return SGX_INVALID_SIG_STRUCT;
	return SGX_INVALID_SIGNATURE;
}

TEST(einit_every_byte_of_sigstruct)
{
	struct sgx_cpu *cpu = t_machine(6, false, NULL);
	struct t_spec spec = t_spec_default(6);
	struct sgx_sign_params p = t_params(&spec);
	EVP_PKEY *key = t_key_fixed();
	struct sgx_sigstruct *sound, *bad;
	uint64_t rng = harness_seed(0x5eed5eedULL);
	unsigned int counts[3] = { 0 };
	struct t_encl e;

	t_build(cpu, &spec, &e);
	sound = t_sign(key, &p, e.mrenclave);
	bad = t_sigdup(sound);
	for (size_t off = 0; off < sizeof(*sound); off++) {
		uint8_t delta = (uint8_t)(harness_rand(&rng) | 1);
		int want = expected_for_offset(off), ret;

		memcpy(bad, sound, sizeof(*sound));
		((uint8_t *)bad)[off] ^= delta;
		/* As the driver does: the MSRs follow the (mutated) modulus. */
		ret = t_einit_kernel(cpu, bad, e.secs);
		CHECK_MSG(ret == want, "byte %zu ^= %#x: got %s, want %s", off, delta,
			  sgx_error_name(ret), sgx_error_name(want));
		counts[want == SGX_INVALID_SIG_STRUCT]++;
	}
	printf("  %u offsets -> SGX_INVALID_SIGNATURE, %u -> SGX_INVALID_SIG_STRUCT\n", counts[0],
	       counts[1]);
	CHECK_SGX(t_einit_kernel(cpu, sound, e.secs), 0);
	free(sound);
	free(bad);
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/*
 * Key separation and sharing: SIGSTRUCT's ISVFAMILYID (bytes 912..927) and
 * ISVEXTPRODID (1008..1023) are not reserved.  EINIT takes them for a KSS
 * enclave and makes them its identity, which EGETKEY's ISVFAMILYID and
 * ISVEXTPRODID policies then read (test_keys.c, kss_identity_keys); a
 * non-KSS enclave may not have an ISVFAMILYID (SGX_INVALID_SIG_STRUCT),
 * and the sound SIGSTRUCT still initializes it after the refusal.
 */
TEST(einit_kss_identity)
{
	struct sgx_cpu *cpu = t_machine(8, false, NULL);
	struct t_spec spec = t_spec_default(8);
	EVP_PKEY *key = t_key_fixed();
	struct sgx_sign_params p;
	struct sgx_sigstruct *sig, *plain;
	struct t_encl e;

	spec.attributes |= SGX_ATTR_KSS;
	p = t_params(&spec);
	for (int i = 0; i < 16; i++) {
		p.isvfamilyid[i] = (uint8_t)(0xF0 + i);
		p.isvextprodid[i] = (uint8_t)(0x10 + i);
	}
	t_build(cpu, &spec, &e);
	sig = t_sign(key, &p, e.mrenclave);
	CHECK_MEM(sig->body.isvfamilyid, p.isvfamilyid, 16);
	CHECK_MEM((const uint8_t *)sig + 912, p.isvfamilyid, 16);
	CHECK_MEM((const uint8_t *)sig + 1008, p.isvextprodid, 16);
	CHECK_SGX(sgx_sigstruct_check(sig, NULL), SGX_SUCCESS);
	CHECK_SGX(t_einit_kernel(cpu, sig, e.secs), 0);
	free(sig);

	/* Without KSS: ISVFAMILYID refused, ISVEXTPRODID alone taken. */
	spec = t_spec_default(9);
	t_build(cpu, &spec, &e);
	p = t_params(&spec);
	plain = t_sign(key, &p, e.mrenclave);
	p.isvfamilyid[0] = 1;
	sig = t_sign(key, &p, e.mrenclave);
	CHECK_SGX(sgx_sigstruct_check(sig, NULL), SGX_SUCCESS);
	CHECK_SGX(t_einit_kernel(cpu, sig, e.secs), SGX_INVALID_SIG_STRUCT);
	free(sig);
	p.isvfamilyid[0] = 0;
	p.isvextprodid[7] = 0x77;
	sig = t_sign(key, &p, e.mrenclave);
	CHECK_SGX(t_einit_kernel(cpu, sig, e.secs), 0);
	/* Initialized: the SIGSTRUCT without either initializes it no more. */
	CHECK_SGX(t_einit_kernel(cpu, plain, e.secs), GP);
	free(sig);
	free(plain);
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* --- Launch control --------------------------------------------------------- */

/* (a) Writable MSRs: the kernel's wrmsr + zero token launches any signer,
 * and the MSRs are per logical processor. */
static void *other_lp_hash(void *arg)
{
	uint64_t v = 1;

	sgx_cpu_rdmsr(arg, MSR_IA32_SGXLEPUBKEYHASH0, &v);
	return (void *)(uintptr_t)v;
}

TEST(launch_writable_any_signer)
{
	struct sgx_cpu *cpu = t_machine(7, false, NULL);
	EVP_PKEY *keys[2] = { t_key_fixed(), t_key_new() };
	uint64_t mine = 0;
	pthread_t th;
	void *theirs;

	for (int i = 0; i < 2; i++) {
		struct t_spec spec = t_spec_default((uint8_t)(20 + i));
		struct t_encl e;

		t_build_init(cpu, keys[i], &spec, &e);
	}
	/* The last hash written stays on this LP only. */
	CHECK_SGX(sgx_cpu_rdmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0, &mine), 0);
	CHECK_EQ(pthread_create(&th, NULL, other_lp_hash, cpu), 0);
	CHECK_EQ(pthread_join(th, &theirs), 0);
	CHECK_NE((uintptr_t)theirs, mine);
	EVP_PKEY_free(keys[0]);
	EVP_PKEY_free(keys[1]);
	t_teardown(cpu);
}

/* (b) Locked MSRs: a launch enclave and the tokens it issues. */
struct launch_env {
	struct sgx_cpu *cpu;
	EVP_PKEY *le_key, *app_key;
	uint8_t le_hash[32];
	struct t_encl le;
	struct sgx_keyrequest req;
	uint8_t launch_key[16] __attribute__((aligned(16)));
	uint64_t le_attributes; /* after EINIT, INIT included */
};

/* The launch enclave: signed by the key the MSRs are locked to, with
 * EINITTOKENKEY; initializes without a token and derives the launch key. */
static void launch_env_init(struct launch_env *env, uint8_t seed, bool le_debug)
{
	struct t_spec spec = t_spec_default(40);
	struct sgx_sign_params p;
	struct sgx_sigstruct *sig;
	uint8_t other[32];
	int ret;

	memset(env, 0, sizeof(*env));
	env->le_key = t_key_fixed();
	env->app_key = t_key_new();
	sig = t_sign(env->le_key, &(struct sgx_sign_params){ 0 }, (uint8_t[32]){ 0 });
	t_sha256(sig->modulus, sizeof(sig->modulus), env->le_hash);
	free(sig);
	env->cpu = t_machine(seed, true, env->le_hash);

	/* Firmware locked the MSRs: the kernel cannot write them. */
	memset(other, 0x11, sizeof(other));
	CHECK_SGX(t_wrmsr_hash(env->cpu, other), GP);

	spec.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_EINITTOKENKEY |
			  (le_debug ? SGX_ATTR_DEBUG : 0);
	t_build(env->cpu, &spec, &env->le);
	p = t_params(&spec);
	p.isvprodid = 0x20;
	p.isvsvn = 5;
	sig = t_sign(env->le_key, &p, env->le.mrenclave);
	ret = t_einit(env->cpu, sig, NULL, env->le.secs);
	CHECK_MSG(ret == 0, "launch enclave EINIT: %s", sgx_error_name(ret));
	free(sig);
	env->le_attributes = spec.attributes | SGX_ATTR_INIT;

	/* Inside the launch enclave: EGETKEY(EINITTOKEN). */
	env->req.keyname = SGX_KEYNAME_EINITTOKEN;
	env->req.isvsvn = 5;
	memcpy(env->req.cpusvn, sgx_cpu_config(env->cpu)->cpusvn, 16);
	env->req.attributemask.flags = ~0ULL;
	env->req.attributemask.xfrm = ~0ULL;
	env->req.miscmask = ~0U;
	for (int i = 0; i < 32; i++)
		env->req.keyid[i] = (uint8_t)(0xA0 + i);
	ret = enclu_egetkey(env->cpu, env->le.secs, &env->req, env->launch_key);
	CHECK_MSG(ret == 0, "EGETKEY(EINITTOKEN) in the launch enclave: %s", sgx_error_name(ret));
}

/* What the launch enclave writes for an enclave it lets run. */
static void make_token(const struct launch_env *env, const uint8_t key[16],
		       const struct t_encl *app, const uint8_t app_mrsigner[32],
		       struct sgx_einittoken *t)
{
	memset(t, 0, sizeof(*t));
	t->valid = 1;
	t->attributes.flags = app->spec.attributes;
	t->attributes.xfrm = app->spec.xfrm;
	memcpy(t->mrenclave, app->mrenclave, 32);
	memcpy(t->mrsigner, app_mrsigner, 32);
	memcpy(t->cpusvnle, env->req.cpusvn, 16);
	t->isvprodidle = 0x20;
	t->isvsvnle = env->req.isvsvn;
	t->maskedmiscselectle = env->req.miscmask & env->le.spec.miscselect;
	t->maskedattributesle.flags = (env->req.attributemask.flags | 3) & env->le_attributes;
	t->maskedattributesle.xfrm = env->req.attributemask.xfrm & env->le.spec.xfrm;
	memcpy(t->keyid, env->req.keyid, 32);
	t_cmac(key, t, SGX_EINITTOKEN_MACED_SIZE, t->mac);
}

static void launch_env_fini(struct launch_env *env)
{
	EVP_PKEY_free(env->le_key);
	EVP_PKEY_free(env->app_key);
	t_teardown(env->cpu);
}

/* A third party's enclave, built and signed (not initialized). */
static struct sgx_sigstruct *app_build(struct launch_env *env, struct t_spec *spec,
				       struct t_encl *app, uint8_t mrsigner[32])
{
	struct sgx_sign_params p = t_params(spec);
	struct sgx_sigstruct *sig;

	t_build(env->cpu, spec, app);
	sig = t_sign(env->app_key, &p, app->mrenclave);
	t_sha256(sig->modulus, sizeof(sig->modulus), mrsigner);
	return sig;
}

TEST(launch_locked_token_launches_third_party)
{
	struct launch_env env;
	struct t_spec spec = t_spec_default(41);
	struct sgx_einittoken token;
	struct sgx_sigstruct *sig;
	uint8_t mrsigner[32];
	struct t_encl app;

	launch_env_init(&env, 8, false);
	sig = app_build(&env, &spec, &app, mrsigner);
	/* Without a token the locked MSRs refuse a third party. */
	CHECK_SGX(t_einit(env.cpu, sig, NULL, app.secs), SGX_INVALID_EINITTOKEN);
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), 0);
	CHECK_MEM(((struct sgx_secs *)app.secs)->mrsigner, mrsigner, 32);
	free(sig);
	launch_env_fini(&env);
}

/* Every byte of the token matters: a change in the MACed region, or in the
 * fields the launch key is derived from, or in the MAC, is refused. */
TEST(launch_locked_every_token_byte)
{
	struct launch_env env;
	struct t_spec spec = t_spec_default(42);
	struct sgx_einittoken token, bad;
	const uint8_t *cpusvn;
	struct sgx_sigstruct *sig;
	uint8_t mrsigner[32];
	unsigned int n_token = 0, n_cpusvn = 0;
	struct t_encl app;

	launch_env_init(&env, 9, false);
	cpusvn = sgx_cpu_config(env.cpu)->cpusvn;
	sig = app_build(&env, &spec, &app, mrsigner);
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	for (size_t off = 0; off < SGX_EINITTOKEN_SIZE; off++) {
		for (unsigned int bit = 0; bit < 8; bit += 3) {
			int want = SGX_INVALID_EINITTOKEN, ret;

			bad = token;
			((uint8_t *)&bad)[off] ^= (uint8_t)(1U << bit);
			/* CPUSVNLE raised beyond the machine: refused before the MAC. */
			if (off >= offsetof(struct sgx_einittoken, cpusvnle) &&
			    off < offsetof(struct sgx_einittoken, cpusvnle) + 16) {
				size_t i = off - offsetof(struct sgx_einittoken, cpusvnle);

				if (bad.cpusvnle[i] > cpusvn[i])
					want = SGX_INVALID_CPUSVN;
			}
			ret = t_einit(env.cpu, sig, &bad, app.secs);
			CHECK_MSG(ret == want, "token byte %zu bit %u: got %s, want %s", off, bit,
				  sgx_error_name(ret), sgx_error_name(want));
			if (want == SGX_INVALID_CPUSVN)
				n_cpusvn++;
			else
				n_token++;
		}
	}
	printf("  %u token changes -> SGX_INVALID_EINITTOKEN, %u -> SGX_INVALID_CPUSVN\n",
	       n_token, n_cpusvn);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), 0);
	free(sig);
	launch_env_fini(&env);
}

/* Tokens MACed with the right key that still do not fit the enclave. */
TEST(launch_locked_token_mismatches)
{
	struct launch_env env;
	struct t_spec spec = t_spec_default(43);
	struct sgx_einittoken token;
	struct sgx_sigstruct *sig;
	uint8_t mrsigner[32];
	struct t_encl app;

	launch_env_init(&env, 10, false);
	sig = app_build(&env, &spec, &app, mrsigner);

	/* VALID = 0: only the MSRs' signer may launch without a token. */
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	token.valid = 0;
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), SGX_INVALID_EINITTOKEN);

	/* A sound token for another MRENCLAVE: the SDM's code is
	 * SGX_INVALID_MEASUREMENT ("EINITTOKEN contains an incorrect
	 * measurement"). */
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	token.mrenclave[0] ^= 1;
	t_cmac(env.launch_key, &token, SGX_EINITTOKEN_MACED_SIZE, token.mac);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), SGX_INVALID_MEASUREMENT);
	/* ... or another signer. */
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	token.mrsigner[31] ^= 1;
	t_cmac(env.launch_key, &token, SGX_EINITTOKEN_MACED_SIZE, token.mac);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), SGX_INVALID_MEASUREMENT);
	/* ... or other attributes than the SECS has. */
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	token.attributes.flags &= ~SGX_ATTR_DEBUG;
	t_cmac(env.launch_key, &token, SGX_EINITTOKEN_MACED_SIZE, token.mac);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), SGX_INVALID_ATTRIBUTE);
	/* MACed with a launch key for another KEYID than the token names. */
	{
		struct sgx_keyrequest req = env.req;
		uint8_t key[16] __attribute__((aligned(16)));

		req.keyid[0] ^= 0xFF;
		CHECK_SGX(enclu_egetkey(env.cpu, env.le.secs, &req, key), 0);
		CHECK(memcmp(key, env.launch_key, 16) != 0);
		make_token(&env, key, &app, mrsigner, &token);
		CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), SGX_INVALID_EINITTOKEN);
	}
	/* Nothing above initialized the enclave. */
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), 0);
	free(sig);
	launch_env_fini(&env);
}

/* A debug launch enclave's tokens launch debug enclaves only. */
TEST(launch_locked_debug_le)
{
	struct launch_env env;
	struct t_spec dbg = t_spec_default(44), prod = t_spec_default(45);
	struct sgx_einittoken token;
	struct sgx_sigstruct *sig_dbg, *sig_prod;
	uint8_t mrsigner[32];
	struct t_encl app_dbg, app_prod;

	launch_env_init(&env, 11, true);
	prod.attributes &= ~SGX_ATTR_DEBUG;
	sig_dbg = app_build(&env, &dbg, &app_dbg, mrsigner);
	sig_prod = app_build(&env, &prod, &app_prod, mrsigner);
	make_token(&env, env.launch_key, &app_prod, mrsigner, &token);
	CHECK(token.maskedattributesle.flags & SGX_ATTR_DEBUG);
	CHECK_SGX(t_einit(env.cpu, sig_prod, &token, app_prod.secs), SGX_INVALID_EINITTOKEN);
	make_token(&env, env.launch_key, &app_dbg, mrsigner, &token);
	CHECK_SGX(t_einit(env.cpu, sig_dbg, &token, app_dbg.secs), 0);
	free(sig_dbg);
	free(sig_prod);
	launch_env_fini(&env);
}

/* Only enclaves with EINITTOKENKEY get the launch key, and only the MSRs'
 * signer may have that attribute. */
TEST(launch_locked_einittokenkey_rules)
{
	struct launch_env env;
	struct t_spec spec = t_spec_default(46), rogue = t_spec_default(47);
	struct sgx_einittoken token;
	struct sgx_sigstruct *sig;
	uint8_t mrsigner[32], key[16] __attribute__((aligned(16)));
	struct t_encl app, rogue_le;

	launch_env_init(&env, 12, false);
	sig = app_build(&env, &spec, &app, mrsigner);
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	CHECK_SGX(t_einit(env.cpu, sig, &token, app.secs), 0);
	free(sig);
	/* The launched enclave has no EINITTOKENKEY: no launch key for it. */
	memset(key, 0xEE, sizeof(key));
	CHECK_SGX(enclu_egetkey(env.cpu, app.secs, &env.req, key), SGX_INVALID_ATTRIBUTE);
	CHECK_EQ(key[0], 0xEE);

	/* An enclave with EINITTOKENKEY signed by another key is refused, with
	 * no token and even with a sound token from the real launch enclave. */
	rogue.attributes |= SGX_ATTR_EINITTOKENKEY;
	sig = app_build(&env, &rogue, &rogue_le, mrsigner);
	CHECK_SGX(t_einit(env.cpu, sig, NULL, rogue_le.secs), SGX_INVALID_ATTRIBUTE);
	make_token(&env, env.launch_key, &rogue_le, mrsigner, &token);
	CHECK_SGX(t_einit(env.cpu, sig, &token, rogue_le.secs), SGX_INVALID_ATTRIBUTE);
	free(sig);
	launch_env_fini(&env);
}

/* The launch key is the machine's: a token verifies on another machine with
 * the same fused keys, and not on one with other keys. */
TEST(launch_key_is_per_machine)
{
	struct launch_env env;
	struct t_spec spec = t_spec_default(48);
	struct sgx_sign_params p = t_params(&spec);
	struct sgx_einittoken token;
	struct sgx_sigstruct *sig;
	uint8_t mrsigner[32];
	struct sgx_cpu *same, *other;
	struct t_encl app;

	launch_env_init(&env, 13, false);
	same = t_machine(13, true, env.le_hash);
	other = t_machine(14, true, env.le_hash);

	t_build(same, &spec, &app);
	sig = t_sign(env.app_key, &p, app.mrenclave);
	t_sha256(sig->modulus, sizeof(sig->modulus), mrsigner);
	make_token(&env, env.launch_key, &app, mrsigner, &token);
	CHECK_SGX(t_einit(same, sig, &token, app.secs), 0);

	t_build(other, &spec, &app);
	CHECK_SGX(t_einit(other, sig, &token, app.secs), SGX_INVALID_EINITTOKEN);

	free(sig);
	t_teardown(same);
	t_teardown(other);
	launch_env_fini(&env);
}
