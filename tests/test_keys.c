/*
 * test_keys.c: EGETKEY and the key hierarchy.
 *
 * Keys are a function of the machine's fused keys and of exactly the
 * identity fields the SDM's key-derivation table names: the same enclave
 * on machines with the same seed gets the same keys, policy selects what a
 * seal key is bound to, REPORT keys ignore the request except KEYID, and
 * every refusal has the SDM's fault or code and leaves the output alone.
 */
#include <pthread.h>

#include "einit_helpers.h"

struct keybuf {
	uint8_t b[16] __attribute__((aligned(16)));
};

static struct sgx_keyrequest seal_req(uint16_t policy)
{
	struct sgx_keyrequest r;

	memset(&r, 0, sizeof(r));
	r.keyname = SGX_KEYNAME_SEAL;
	r.keypolicy = policy;
	r.isvsvn = 7; /* t_params() signs ISVSVN 7 */
	r.cpusvn[0] = 1; /* the default machine's CPUSVN */
	r.attributemask.flags = ~0ULL;
	r.attributemask.xfrm = ~0ULL;
	r.miscmask = ~0U;
	return r;
}

static struct keybuf getkey(struct sgx_cpu *cpu, void *secs, const struct sgx_keyrequest *req)
{
	struct keybuf k;
	int ret;

	memset(&k, 0, sizeof(k));
	ret = enclu_egetkey(cpu, secs, req, k.b);
	CHECK_MSG(ret == 0, "EGETKEY(keyname %u, policy %#x): %s", req->keyname, req->keypolicy,
		  sgx_error_name(ret));
	return k;
}

static bool same(struct keybuf a, struct keybuf b)
{
	return memcmp(a.b, b.b, 16) == 0;
}

TEST(keys_seal_policy_and_machines)
{
	struct sgx_cpu *m1 = t_machine(1, false, NULL), *m2 = t_machine(1, false, NULL);
	struct sgx_cpu *m3 = t_machine(2, false, NULL);
	struct t_spec sa = t_spec_default(1), sb = t_spec_default(2);
	struct sgx_keyrequest by_enclave = seal_req(SGX_KEYPOLICY_MRENCLAVE);
	struct sgx_keyrequest by_signer = seal_req(SGX_KEYPOLICY_MRSIGNER);
	EVP_PKEY *key = t_key_fixed();
	struct t_encl a, b, a2, a3;
	struct keybuf k;

	t_build_init(m1, key, &sa, &a);
	t_build_init(m1, key, &sb, &b);
	t_build_init(m2, key, &sa, &a2);
	t_build_init(m3, key, &sa, &a3);

	k = getkey(m1, a.secs, &by_enclave);
	CHECK_MSG(same(k, getkey(m1, a.secs, &by_enclave)), "seal key not deterministic");
	CHECK_MSG(!same(k, getkey(m1, b.secs, &by_enclave)),
		  "MRENCLAVE policy: two images share a key");
	CHECK_MSG(same(getkey(m1, a.secs, &by_signer), getkey(m1, b.secs, &by_signer)),
		  "MRSIGNER policy: one signer's enclaves differ");
	CHECK_MSG(!same(k, getkey(m1, a.secs, &by_signer)), "policies give one key");
	CHECK_MSG(same(k, getkey(m2, a2.secs, &by_enclave)),
		  "same seed, same enclave, different key");
	CHECK_MSG(!same(k, getkey(m3, a3.secs, &by_enclave)), "different seeds, same key");
	by_enclave.keyid[7] = 1;
	CHECK_MSG(!same(k, getkey(m1, a.secs, &by_enclave)), "KEYID ignored");

	EVP_PKEY_free(key);
	t_teardown(m1);
	t_teardown(m2);
	t_teardown(m3);
}

TEST(keys_unseeded_machines_differ)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *m[2];
	struct t_spec spec = t_spec_default(3);
	struct sgx_keyrequest req = seal_req(SGX_KEYPOLICY_MRENCLAVE);
	EVP_PKEY *key = t_key_fixed();
	struct keybuf k[2];

	for (int i = 0; i < 2; i++) {
		struct t_encl e;

		sgx_cpu_config_default(&cfg, T_EPC_FRAMES * 4096ULL);
		CHECK_EQ(sgx_cpu_create(&cfg, &m[i]), 0);
		t_build_init(m[i], key, &spec, &e);
		k[i] = getkey(m[i], e.secs, &req);
	}
	CHECK_MSG(!same(k[0], k[1]), "two machines with random fuses share a seal key");
	EVP_PKEY_free(key);
	t_teardown(m[0]);
	t_teardown(m[1]);
}

/* Older SVNs may be asked for (to unseal old data) and give other keys;
 * attributes INIT and DEBUG are always bound. */
TEST(keys_svns_and_attributes)
{
	struct sgx_cpu *cpu = t_machine(3, false, NULL);
	struct t_spec dbg = t_spec_default(4), prod = t_spec_default(4);
	struct sgx_keyrequest req = seal_req(SGX_KEYPOLICY_MRSIGNER), r;
	EVP_PKEY *key = t_key_fixed();
	struct t_encl d, p;
	struct keybuf k;

	prod.attributes &= ~SGX_ATTR_DEBUG;
	t_build_init(cpu, key, &dbg, &d);
	t_build_init(cpu, key, &prod, &p);
	k = getkey(cpu, d.secs, &req);

	r = req;
	r.isvsvn = 6;
	CHECK_MSG(!same(k, getkey(cpu, d.secs, &r)), "ISVSVN 6 and 7 share a key");
	r = req;
	r.cpusvn[0] = 0;
	CHECK_MSG(!same(k, getkey(cpu, d.secs, &r)), "older CPUSVN shares the key");
	r = req;
	r.attributemask.flags = 0;
	r.attributemask.xfrm = 0;
	CHECK_MSG(!same(k, getkey(cpu, d.secs, &r)), "attribute mask ignored");
	r = req;
	r.miscmask = 0;
	CHECK_MSG(!same(k, getkey(cpu, d.secs, &r)), "MISCMASK ignored");
	/* Mask 0 still binds DEBUG: debug and production never share. */
	r.attributemask.flags = 0;
	r.attributemask.xfrm = 0;
	CHECK_MSG(!same(getkey(cpu, d.secs, &r), getkey(cpu, p.secs, &r)),
		  "a debug enclave shares a sealing key with a production one");
	r = req;
	r.keypolicy = SGX_KEYPOLICY_MRSIGNER;
	r.isvsvn = 0;
	CHECK_MSG(!same(getkey(cpu, d.secs, &r), k), "ISVSVN 0 and 7 share a key");

	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* The REPORT key is the enclave's: the request contributes KEYID only. */
TEST(keys_report_key_ignores_request)
{
	struct sgx_cpu *cpu = t_machine(4, false, NULL);
	struct t_spec sa = t_spec_default(5), sb = t_spec_default(6);
	struct sgx_keyrequest base, r;
	EVP_PKEY *key = t_key_fixed();
	struct t_encl a, b;
	struct keybuf k;

	t_build_init(cpu, key, &sa, &a);
	t_build_init(cpu, key, &sb, &b);
	memset(&base, 0, sizeof(base));
	base.keyname = SGX_KEYNAME_REPORT;
	k = getkey(cpu, a.secs, &base);

	r = base;
	r.keypolicy = SGX_KEYPOLICY_MRENCLAVE | SGX_KEYPOLICY_MRSIGNER;
	r.isvsvn = 0xFFFF; /* beyond the enclave's: not checked for REPORT */
	memset(r.cpusvn, 0xFF, 16); /* beyond the machine's: not checked */
	r.attributemask.flags = ~0ULL;
	r.miscmask = ~0U;
	CHECK_MSG(same(k, getkey(cpu, a.secs, &r)), "REPORT key depends on request fields");
	r = base;
	r.keyid[31] = 9;
	CHECK_MSG(!same(k, getkey(cpu, a.secs, &r)), "REPORT key ignores KEYID");
	CHECK_MSG(!same(k, getkey(cpu, b.secs, &base)), "two enclaves share a REPORT key");
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* Provisioning keys: PROVISIONKEY enclaves only; bound to the signer and
 * product, not to the image; PROVISION ignores KEYID. */
TEST(keys_provisioning)
{
	struct sgx_cpu *cpu = t_machine(5, false, NULL), *other = t_machine(6, false, NULL);
	struct t_spec sa = t_spec_default(7), sb = t_spec_default(8);
	struct sgx_keyrequest prov = seal_req(0), pseal;
	EVP_PKEY *key = t_key_fixed();
	struct t_encl a, b, a_other;
	struct keybuf k;

	sa.attributes |= SGX_ATTR_PROVISIONKEY;
	sb.attributes |= SGX_ATTR_PROVISIONKEY;
	t_build_init(cpu, key, &sa, &a);
	t_build_init(cpu, key, &sb, &b);
	t_build_init(other, key, &sa, &a_other);
	prov.keyname = SGX_KEYNAME_PROVISION;
	pseal = prov;
	pseal.keyname = SGX_KEYNAME_PROVISION_SEAL;

	k = getkey(cpu, a.secs, &prov);
	CHECK_MSG(same(k, getkey(cpu, b.secs, &prov)), "PROVISION key depends on MRENCLAVE");
	prov.keyid[0] = 1;
	CHECK_MSG(same(k, getkey(cpu, a.secs, &prov)), "PROVISION key depends on KEYID");
	CHECK_MSG(!same(k, getkey(cpu, a.secs, &pseal)), "PROVISION and PROVISION_SEAL agree");
	CHECK_MSG(!same(k, getkey(other, a_other.secs, &prov)),
		  "PROVISION key equal on machines with other fuses");
	CHECK_MSG(!same(getkey(cpu, a.secs, &pseal), getkey(cpu, a.secs, &(struct sgx_keyrequest){
		.keyname = SGX_KEYNAME_SEAL, .keypolicy = 0, .isvsvn = 7, .cpusvn = { 1 },
		.attributemask = { ~0ULL, ~0ULL }, .miscmask = ~0U })),
		  "PROVISION_SEAL equals SEAL");
	EVP_PKEY_free(key);
	t_teardown(cpu);
	t_teardown(other);
}

/* KSS: CONFIGID and CONFIGSVN enter seal keys by policy; a CONFIGSVN above
 * the enclave's is refused like an ISVSVN. */
TEST(keys_kss_config)
{
	struct sgx_cpu *cpu = t_machine(7, false, NULL);
	struct t_spec spec = t_spec_default(9);
	struct sgx_keyrequest r = seal_req(SGX_KEYPOLICY_MRSIGNER);
	EVP_PKEY *key = t_key_fixed();
	struct keybuf plain, config;
	struct t_encl e;

	spec.attributes |= SGX_ATTR_KSS;
	spec.config_id0 = 0x55;
	spec.config_svn = 3;
	t_build_init(cpu, key, &spec, &e);
	plain = getkey(cpu, e.secs, &r);
	r.keypolicy |= SGX_KEYPOLICY_CONFIGID;
	r.config_svn = 3;
	config = getkey(cpu, e.secs, &r);
	CHECK_MSG(!same(plain, config), "CONFIGID policy ignored");
	r.config_svn = 2;
	CHECK_MSG(!same(config, getkey(cpu, e.secs, &r)), "CONFIGSVN ignored");
	r.config_svn = 4;
	CHECK_SGX(enclu_egetkey(cpu, e.secs, &r, plain.b), SGX_INVALID_ISVSVN);
	r.keypolicy = SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_NOISVPRODID;
	r.config_svn = 0;
	CHECK_MSG(!same(plain, getkey(cpu, e.secs, &r)), "NOISVPRODID ignored");
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* A KSS enclave of one signer, whose SIGSTRUCT states ISVPRODID and every
 * byte of ISVFAMILYID and ISVEXTPRODID. */
static void build_kss(struct sgx_cpu *cpu, EVP_PKEY *key, uint8_t fill, uint16_t prodid,
		      uint8_t family, uint8_t extprod, struct t_encl *e)
{
	struct t_spec spec = t_spec_default(fill);
	struct sgx_sign_params p;
	struct sgx_sigstruct *sig;

	spec.attributes |= SGX_ATTR_KSS;
	t_build(cpu, &spec, e);
	p = t_params(&spec);
	p.isvprodid = prodid;
	memset(p.isvfamilyid, family, sizeof(p.isvfamilyid));
	memset(p.isvextprodid, extprod, sizeof(p.isvextprodid));
	sig = t_sign(key, &p, e->mrenclave);
	CHECK_SGX(t_einit_kernel(cpu, sig, e->secs), 0);
	free(sig);
}

/*
 * SDM, EGETKEY, SEAL_KEY and PROVISION_SEAL_KEY: "Include enclave product
 * family ID?" and "... extended product ID?": with KEYPOLICY.ISVFAMILYID
 * (bit 4) or ISVEXTPRODID (bit 5) the key depends on the SIGSTRUCT's
 * ISVFAMILYID or ISVEXTPRODID, which EINIT copied in, and without the bit
 * it does not; so enclaves of one family can share sealed data across
 * products (NOISVPRODID), and products that differ only in ISVEXTPRODID
 * can keep it apart.
 */
TEST(keys_kss_family_and_ext_prodid)
{
	struct sgx_cpu *cpu = t_machine(8, false, NULL);
	const uint16_t signer = SGX_KEYPOLICY_MRSIGNER;
	const uint16_t family = signer | SGX_KEYPOLICY_ISVFAMILYID | SGX_KEYPOLICY_NOISVPRODID;
	const uint16_t extprod = signer | SGX_KEYPOLICY_ISVEXTPRODID;
	struct sgx_keyrequest r;
	EVP_PKEY *key = t_key_fixed();
	struct t_encl a, b, c, d;

	build_kss(cpu, key, 1, 1, 0x11, 0x21, &a);
	build_kss(cpu, key, 2, 2, 0x11, 0x22, &b); /* a's family, another product */
	build_kss(cpu, key, 3, 1, 0x12, 0x21, &c); /* a's product, another family */
	build_kss(cpu, key, 4, 1, 0x11, 0x22, &d); /* a but for ISVEXTPRODID */

	r = seal_req(family);
	CHECK_MSG(same(getkey(cpu, a.secs, &r), getkey(cpu, b.secs, &r)),
		  "ISVFAMILYID policy: one family's products differ");
	CHECK_MSG(!same(getkey(cpu, a.secs, &r), getkey(cpu, c.secs, &r)),
		  "ISVFAMILYID policy: two families share a key");
	r = seal_req(extprod);
	CHECK_MSG(!same(getkey(cpu, a.secs, &r), getkey(cpu, d.secs, &r)),
		  "ISVEXTPRODID policy: two extended products share a key");
	CHECK_MSG(same(getkey(cpu, a.secs, &r), getkey(cpu, c.secs, &r)),
		  "ISVEXTPRODID policy: the family counts");
	/* Without the bits, neither field counts. */
	r = seal_req(signer);
	CHECK_MSG(same(getkey(cpu, a.secs, &r), getkey(cpu, c.secs, &r)),
		  "MRSIGNER policy: ISVFAMILYID counts");
	CHECK_MSG(same(getkey(cpu, a.secs, &r), getkey(cpu, d.secs, &r)),
		  "MRSIGNER policy: ISVEXTPRODID counts");
	r = seal_req(signer | SGX_KEYPOLICY_NOISVPRODID);
	CHECK_MSG(same(getkey(cpu, a.secs, &r), getkey(cpu, c.secs, &r)),
		  "NOISVPRODID alone: ISVFAMILYID counts");
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* --- Refusals ---------------------------------------------------------------- */

struct key_refusal {
	const char *what;
	void (*mutate)(struct sgx_keyrequest *r);
	int expect;
};

static void k_reserved1(struct sgx_keyrequest *r) { r->reserved1[1] = 1; }
static void k_reserved2_first(struct sgx_keyrequest *r) { r->reserved2[0] = 1; }
static void k_reserved2_last(struct sgx_keyrequest *r) { r->reserved2[433] = 0x80; }
static void k_policy_bit6(struct sgx_keyrequest *r) { r->keypolicy |= 1U << 6; }
static void k_policy_bit15(struct sgx_keyrequest *r) { r->keypolicy |= 1U << 15; }
static void k_policy_configid(struct sgx_keyrequest *r) { r->keypolicy |= SGX_KEYPOLICY_CONFIGID; }
static void k_policy_noisvprodid(struct sgx_keyrequest *r) { r->keypolicy |= SGX_KEYPOLICY_NOISVPRODID; }
static void k_policy_family(struct sgx_keyrequest *r) { r->keypolicy |= SGX_KEYPOLICY_ISVFAMILYID; }
static void k_policy_extprod(struct sgx_keyrequest *r) { r->keypolicy |= SGX_KEYPOLICY_ISVEXTPRODID; }
static void k_configsvn(struct sgx_keyrequest *r) { r->config_svn = 1; }
static void k_keyname5(struct sgx_keyrequest *r) { r->keyname = 5; }
static void k_keyname_max(struct sgx_keyrequest *r) { r->keyname = 0xFFFF; }
static void k_einittoken(struct sgx_keyrequest *r) { r->keyname = SGX_KEYNAME_EINITTOKEN; }
static void k_provision(struct sgx_keyrequest *r) { r->keyname = SGX_KEYNAME_PROVISION; }
static void k_provision_seal(struct sgx_keyrequest *r) { r->keyname = SGX_KEYNAME_PROVISION_SEAL; }
static void k_isvsvn(struct sgx_keyrequest *r) { r->isvsvn = 8; }
static void k_cpusvn0(struct sgx_keyrequest *r) { r->cpusvn[0] = 2; }
static void k_cpusvn15(struct sgx_keyrequest *r) { r->cpusvn[15] = 1; }
static void k_cpusvn_mixed(struct sgx_keyrequest *r)
{
	r->cpusvn[0] = 0; /* one component older, another newer: still beyond */
	r->cpusvn[3] = 1;
}

static const struct key_refusal key_refusals[] = {
	{ "KEYREQUEST reserved1", k_reserved1, GP },
	{ "KEYREQUEST reserved2 first byte", k_reserved2_first, GP },
	{ "KEYREQUEST reserved2 last byte", k_reserved2_last, GP },
	{ "KEYPOLICY reserved bit 6", k_policy_bit6, GP },
	{ "KEYPOLICY reserved bit 15", k_policy_bit15, GP },
	{ "KEYPOLICY CONFIGID without KSS", k_policy_configid, GP },
	{ "KEYPOLICY NOISVPRODID without KSS", k_policy_noisvprodid, GP },
	{ "KEYPOLICY ISVFAMILYID without KSS", k_policy_family, GP },
	{ "KEYPOLICY ISVEXTPRODID without KSS", k_policy_extprod, GP },
	{ "CONFIGSVN without KSS", k_configsvn, GP },
	{ "KEYNAME 5", k_keyname5, SGX_INVALID_KEYNAME },
	{ "KEYNAME 0xFFFF", k_keyname_max, SGX_INVALID_KEYNAME },
	{ "EINITTOKEN key without EINITTOKENKEY", k_einittoken, SGX_INVALID_ATTRIBUTE },
	{ "PROVISION key without PROVISIONKEY", k_provision, SGX_INVALID_ATTRIBUTE },
	{ "PROVISION_SEAL key without PROVISIONKEY", k_provision_seal, SGX_INVALID_ATTRIBUTE },
	{ "ISVSVN above the enclave's", k_isvsvn, SGX_INVALID_ISVSVN },
	{ "CPUSVN[0] above the machine's", k_cpusvn0, SGX_INVALID_CPUSVN },
	{ "CPUSVN[15] above the machine's", k_cpusvn15, SGX_INVALID_CPUSVN },
	{ "CPUSVN one component older, one newer", k_cpusvn_mixed, SGX_INVALID_CPUSVN },
};

TEST(keys_refusals_table)
{
	struct sgx_cpu *cpu = t_machine(8, false, NULL);
	struct t_spec spec = t_spec_default(10);
	EVP_PKEY *key = t_key_fixed();
	struct t_encl e;

	t_build_init(cpu, key, &spec, &e);
	for (size_t i = 0; i < sizeof(key_refusals) / sizeof(key_refusals[0]); i++) {
		const struct key_refusal *kr = &key_refusals[i];
		struct sgx_keyrequest r = seal_req(SGX_KEYPOLICY_MRENCLAVE);
		struct keybuf out;
		int ret;

		kr->mutate(&r);
		memset(out.b, 0xA5, 16);
		ret = enclu_egetkey(cpu, e.secs, &r, out.b);
		CHECK_MSG(ret == kr->expect, "%s: got %s, want %s", kr->what, sgx_error_name(ret),
			  sgx_error_name(kr->expect));
		for (int j = 0; j < 16; j++)
			CHECK_MSG(out.b[j] == 0xA5, "%s: key written on failure", kr->what);
		printf("  ok: %s -> %s\n", kr->what, sgx_error_name(ret));
	}
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

TEST(keys_operands)
{
	struct sgx_cpu *cpu = t_machine(9, false, NULL);
	struct t_spec spec = t_spec_default(11);
	struct sgx_keyrequest req = seal_req(0);
	EVP_PKEY *key = t_key_fixed();
	uint8_t *raw, outside[8192] __attribute__((aligned(4096)));
	struct keybuf out;
	struct t_encl e, uninit;

	t_build_init(cpu, key, &spec, &e);
	t_build(cpu, &spec, &uninit);
	raw = aligned_alloc(1024, 2048);
	CHECK(raw);
	memcpy(raw + 256, &req, sizeof(req));
	CHECK_SGX(enclu_egetkey(cpu, e.secs, (void *)(raw + 256), out.b), GP);
	CHECK_SGX(enclu_egetkey(cpu, e.secs, &req, (uint8_t *)raw + 8), GP);
	CHECK_SGX(enclu_egetkey(cpu, e.secs, NULL, out.b), GP);
	/* Outside an enclave: the SECS of one not initialized, a page that is
	 * not a SECS, an address outside the EPC. */
	CHECK_SGX(enclu_egetkey(cpu, uninit.secs, &req, out.b), GP);
	CHECK_SGX(enclu_egetkey(cpu, e.pages[0], &req, out.b), GP);
	CHECK_SGX(enclu_egetkey(cpu, t_free_frame(cpu), &req, out.b), GP);
	CHECK_SGX(enclu_egetkey(cpu, outside, &req, out.b), PF);
	CHECK_SGX(enclu_egetkey(cpu, e.secs, &req, out.b), 0);
	free(raw);
	EVP_PKEY_free(key);
	t_teardown(cpu);
}

/* --- Threads ------------------------------------------------------------------ */

struct derive_arg {
	struct sgx_cpu *cpu;
	void *secs;
	struct keybuf want;
	int rounds;
	int bad;
};

static void *derive_loop(void *p)
{
	struct derive_arg *a = p;
	struct sgx_keyrequest req = seal_req(SGX_KEYPOLICY_MRENCLAVE);

	for (int i = 0; i < a->rounds; i++) {
		struct keybuf k;

		if (enclu_egetkey(a->cpu, a->secs, &req, k.b) || !same(k, a->want))
			a->bad++;
	}
	return NULL;
}

/* Derivation has no shared state: threads agree with one another. */
TEST(keys_threads_agree)
{
	struct sgx_cpu *cpu = t_machine(10, false, NULL);
	struct t_spec spec = t_spec_default(12);
	struct sgx_keyrequest req = seal_req(SGX_KEYPOLICY_MRENCLAVE);
	EVP_PKEY *key = t_key_fixed();
	struct derive_arg args[4];
	pthread_t th[4];
	struct t_encl e;

	t_build_init(cpu, key, &spec, &e);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct derive_arg){ .cpu = cpu, .secs = e.secs, .rounds = 200 };
		args[i].want = getkey(cpu, e.secs, &req);
		CHECK_EQ(pthread_create(&th[i], NULL, derive_loop, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(pthread_join(th[i], NULL), 0);
		CHECK_MSG(args[i].bad == 0, "thread %d: %d of %d derivations wrong", i, args[i].bad,
			  args[i].rounds);
	}
	EVP_PKEY_free(key);
	t_teardown(cpu);
}
