/*
 * keys.c: the processor's key hierarchy and EGETKEY.
 *
 * Every key the emulated processor hands out or checks with is an
 * AES-128-CMAC, keyed with a fused root, over a derivation block (struct
 * key_dependencies, laid out in cpu_internal.h) that holds exactly the
 * fields the SDM's key-derivation table makes the key depend on:
 *
 *   key             root       depends on
 *   EINITTOKEN      seal       owner epoch, CPUSVN(req), ISVSVN(req),
 *                              ISVPRODID, MRSIGNER, masked ATTRIBUTES and
 *                              MISCSELECT, KEYID(req)
 *   REPORT          seal       owner epoch, CPUSVN (the machine's),
 *                              ATTRIBUTES, MISCSELECT, MRENCLAVE, CONFIGID,
 *                              CONFIGSVN, KEYID(req)
 *   SEAL            seal       owner epoch, CPUSVN(req), ISVSVN(req),
 *                              masked ATTRIBUTES and MISCSELECT and their
 *                              masks, KEYID(req), KEYPOLICY, and by policy
 *                              MRENCLAVE, MRSIGNER, ISVPRODID, CONFIGID +
 *                              CONFIGSVN(req), ISVEXTPRODID, ISVFAMILYID
 *   PROVISION       prov       CPUSVN(req), ISVSVN(req), ISVPRODID,
 *                              MRSIGNER, masked ATTRIBUTES and MISCSELECT
 *                              and their masks
 *   PROVISION_SEAL  prov       as PROVISION, plus the seal fuses, KEYPOLICY
 *                              and by policy ISVPRODID, CONFIGID +
 *                              CONFIGSVN(req), ISVEXTPRODID, ISVFAMILYID
 *
 * EINIT derives the launch key through cpu_keydep_launch() from a token's
 * fields, and EGETKEY(EINITTOKEN) through the same function from the launch
 * enclave's SECS and request, so a token built with EGETKEY's key verifies
 * in EINIT exactly when it names the same fields.  EREPORT will derive the
 * target's report key through cpu_keydep_report(), as EGETKEY(REPORT) does.
 *
 * No global state and no allocation: the CMAC runs on the block cipher's
 * key schedule on the stack, so any number of threads may derive at once,
 * and EGETKEY and EREPORT are async-signal-safe (the ENCLU trap handler
 * runs them in signal context).
 */
/* AES_set_encrypt_key() and AES_encrypt(): see cpu_cmac(). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "cpu/cpu_internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/aes.h>
#include <openssl/crypto.h>

/* Attributes every sealing-class key includes whatever the mask: INIT and
 * DEBUG (the SDM's REQUIRED_SEALING_MASK), so that a debug enclave never
 * shares a key with a production one. */
#define REQUIRED_SEALING_MASK (SGX_ATTR_INIT | SGX_ATTR_DEBUG)

/* KEYPOLICY bits that need ATTRIBUTES.KSS: SDM, EGETKEY, "Verify that
 * CONFIGSVN & New Policy bits are not used if KSS is not enabled" tests
 * KEYPOLICY & 003CH, bits 2 (NOISVPRODID), 3 (CONFIGID), 4 (ISVFAMILYID)
 * and 5 (ISVEXTPRODID). */
#define KSS_POLICY_MASK                                                        \
	(SGX_KEYPOLICY_CONFIGID | SGX_KEYPOLICY_ISVFAMILYID | SGX_KEYPOLICY_ISVEXTPRODID | \
	 SGX_KEYPOLICY_NOISVPRODID)

/*
 * AES-128-CMAC (RFC 4493) over the block cipher alone: no context to
 * allocate and no lock, so that EGETKEY and EREPORT run inside the ENCLU
 * trap handler, in signal context.  The low-level AES functions are
 * deprecated in OpenSSL 3 but stay, and are the ones that allocate nothing.
 */
static void cmac_double(uint8_t b[16])
{
	uint8_t carry = b[0] >> 7;

	for (int i = 0; i < 15; i++)
		b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
	b[15] = (uint8_t)((b[15] << 1) ^ (carry ? 0x87 : 0));
}

int cpu_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16])
{
	const uint8_t *p = data;
	uint8_t k1[16] = { 0 }, x[16] = { 0 }, last[16];
	size_t nblocks = len ? (len + 15) / 16 : 1;
	AES_KEY ks;

	AES_set_encrypt_key(key, 128, &ks);
	/* Subkeys: L = AES(0); K1 = 2L; K2 = 4L. */
	AES_encrypt(k1, k1, &ks);
	cmac_double(k1);
	for (size_t i = 0; i + 1 < nblocks; i++) {
		for (int j = 0; j < 16; j++)
			x[j] ^= p[16 * i + j];
		AES_encrypt(x, x, &ks);
	}
	/* The last block: whole, xor K1; partial or empty, padded, xor K2. */
	memset(last, 0, sizeof(last));
	if (len && len % 16 == 0) {
		memcpy(last, p + 16 * (nblocks - 1), 16);
	} else {
		size_t rem = len % 16;

		memcpy(last, p + 16 * (nblocks - 1), rem);
		last[rem] = 0x80;
		cmac_double(k1);
	}
	for (int j = 0; j < 16; j++)
		x[j] ^= last[j] ^ k1[j];
	AES_encrypt(x, mac, &ks);
	OPENSSL_cleanse(&ks, sizeof(ks));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(x, sizeof(x));
	return 0;
}

int cpu_derive_key(const struct sgx_cpu *cpu, const struct key_dependencies *kd,
		   uint8_t key[16])
{
	const uint8_t *root = cpu->keys.seal_fuses;

	if (kd->keyname == SGX_KEYNAME_PROVISION || kd->keyname == SGX_KEYNAME_PROVISION_SEAL)
		root = cpu->keys.prov_fuses;
	return cpu_cmac(root, kd, sizeof(*kd), key);
}

bool cpu_cpusvn_beyond(const struct sgx_cpu *cpu, const uint8_t cpusvn[16])
{
	for (unsigned int i = 0; i < 16; i++)
		if (cpusvn[i] > cpu->cfg.cpusvn[i])
			return true;
	return false;
}

void cpu_keydep_launch(const struct sgx_cpu *cpu, struct key_dependencies *kd,
		       const uint8_t mrsigner[32], uint16_t isvprodid, uint16_t isvsvn,
		       const uint8_t cpusvn[16], const struct sgx_attributes *attributes,
		       uint32_t miscselect, const uint8_t keyid[32])
{
	memset(kd, 0, sizeof(*kd));
	kd->keyname = SGX_KEYNAME_EINITTOKEN;
	kd->isvprodid = isvprodid;
	kd->isvsvn = isvsvn;
	memcpy(kd->owner_epoch, cpu->keys.owner_epoch, 16);
	memcpy(kd->cpusvn, cpusvn, 16);
	kd->attributes = *attributes;
	kd->miscselect = miscselect;
	memcpy(kd->mrsigner, mrsigner, 32);
	memcpy(kd->keyid, keyid, 32);
	memcpy(kd->seal_fuses, cpu->keys.seal_fuses, 16);
}

void cpu_keydep_report(const struct sgx_cpu *cpu, struct key_dependencies *kd,
		       const uint8_t mrenclave[32], const struct sgx_attributes *attributes,
		       uint32_t miscselect, const uint8_t config_id[64], uint16_t config_svn,
		       const uint8_t keyid[32])
{
	memset(kd, 0, sizeof(*kd));
	kd->keyname = SGX_KEYNAME_REPORT;
	kd->config_svn = config_svn;
	memcpy(kd->owner_epoch, cpu->keys.owner_epoch, 16);
	memcpy(kd->cpusvn, cpu->cfg.cpusvn, 16);
	kd->attributes = *attributes;
	kd->miscselect = miscselect;
	memcpy(kd->mrenclave, mrenclave, 32);
	memcpy(kd->keyid, keyid, 32);
	memcpy(kd->config_id, config_id, 64);
	memcpy(kd->seal_fuses, cpu->keys.seal_fuses, 16);
}

/* What EGETKEY reads of the calling enclave's SECS, copied under its lock. */
struct egetkey_identity {
	struct sgx_attributes attributes;
	uint32_t miscselect;
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t config_svn;
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint8_t config_id[64];
	uint8_t isvextprodid[16];
	uint8_t isvfamilyid[16];
};

/* The calling enclave's identity: secs must be the SECS of an initialized
 * enclave (the thread is inside it), else #GP as for EGETKEY outside an
 * enclave; #PF if secs is not in the EPC, #MC if poisoned. */
static int egetkey_identity(struct sgx_cpu *cpu, void *secs, struct egetkey_identity *id)
{
	const struct sgx_secs *s;
	struct secs_private *priv;
	uint64_t idx;
	int ret;

	ret = cpu_epc_operand(cpu, secs, &idx);
	if (ret)
		return ret;
	ret = cpu_frame_lock(cpu, idx);
	if (ret)
		return ret;
	s = (const struct sgx_secs *)cpu_frame_ptr(cpu, idx);
	priv = secs_private((uint8_t *)s);
	if (!cpu->epcm[idx].valid || cpu->epcm[idx].type != SGX_PAGE_TYPE_SECS ||
	    !priv->initialized) {
		cpu_frame_unlock(cpu, idx);
		return GP;
	}
	id->attributes.flags = s->attributes;
	id->attributes.xfrm = s->xfrm;
	id->miscselect = s->miscselect;
	id->isvprodid = s->isv_prod_id;
	id->isvsvn = s->isv_svn;
	id->config_svn = s->config_svn;
	memcpy(id->mrenclave, s->mrenclave, 32);
	memcpy(id->mrsigner, s->mrsigner, 32);
	memcpy(id->config_id, s->config_id, 64);
	memcpy(id->isvextprodid, priv->isvextprodid, 16);
	memcpy(id->isvfamilyid, priv->isvfamilyid, 16);
	cpu_frame_unlock(cpu, idx);
	return 0;
}

/* The KEYREQUEST format checks: reserved fields and policy bits zero, and
 * the KSS-only policy bits and CONFIGSVN only for KSS enclaves.  0 or #GP. */
static int keyrequest_check(const struct sgx_keyrequest *req, const struct egetkey_identity *id)
{
	if (!cpu_all_zero(req->reserved1, sizeof(req->reserved1)) ||
	    !cpu_all_zero(req->reserved2, sizeof(req->reserved2)) ||
	    (req->keypolicy & SGX_KEYPOLICY_RESERVED_MASK))
		return GP;
	if (!(id->attributes.flags & SGX_ATTR_KSS) &&
	    ((req->keypolicy & KSS_POLICY_MASK) || req->config_svn))
		return GP;
	return 0;
}

/* The SVN checks of the keys that take SVNs from the request. */
static int svn_check(const struct sgx_cpu *cpu, const struct sgx_keyrequest *req,
		     const struct egetkey_identity *id, bool config_svn)
{
	if (cpu_cpusvn_beyond(cpu, req->cpusvn))
		return SGX_INVALID_CPUSVN;
	if (req->isvsvn > id->isvsvn)
		return SGX_INVALID_ISVSVN;
	if (config_svn && req->config_svn > id->config_svn)
		return SGX_INVALID_ISVSVN;
	return 0;
}

/* The policy-selected identity of SEAL and PROVISION_SEAL keys (SDM,
 * EGETKEY: "Include enclave product family ID?", "... product ID?",
 * "... Config ID?", "... extended product ID?"): ISVFAMILYID and
 * ISVEXTPRODID are the SIGSTRUCT's, as EINIT copied them in. */
static void keydep_policy(struct key_dependencies *kd, const struct sgx_keyrequest *req,
			  const struct egetkey_identity *id)
{
	if (!(req->keypolicy & SGX_KEYPOLICY_NOISVPRODID))
		kd->isvprodid = id->isvprodid;
	if (req->keypolicy & SGX_KEYPOLICY_CONFIGID) {
		memcpy(kd->config_id, id->config_id, 64);
		kd->config_svn = req->config_svn;
	}
	if (req->keypolicy & SGX_KEYPOLICY_ISVEXTPRODID)
		memcpy(kd->isvextprodid, id->isvextprodid, 16);
	if (req->keypolicy & SGX_KEYPOLICY_ISVFAMILYID)
		memcpy(kd->isvfamilyid, id->isvfamilyid, 16);
	kd->keypolicy = req->keypolicy;
}

/* Builds the block for req, or returns the SGX error code that refuses it. */
static int egetkey_block(const struct sgx_cpu *cpu, const struct sgx_keyrequest *req,
			 const struct egetkey_identity *id, struct key_dependencies *kd)
{
	struct sgx_attributes attributes;
	uint32_t miscselect;
	int ret;

	attributes.flags = (req->attributemask.flags | REQUIRED_SEALING_MASK) & id->attributes.flags;
	attributes.xfrm = req->attributemask.xfrm & id->attributes.xfrm;
	miscselect = req->miscmask & id->miscselect;

	switch (req->keyname) {
	case SGX_KEYNAME_SEAL:
		ret = svn_check(cpu, req, id, true);
		if (ret)
			return ret;
		memset(kd, 0, sizeof(*kd));
		kd->keyname = SGX_KEYNAME_SEAL;
		keydep_policy(kd, req, id);
		if (req->keypolicy & SGX_KEYPOLICY_MRENCLAVE)
			memcpy(kd->mrenclave, id->mrenclave, 32);
		if (req->keypolicy & SGX_KEYPOLICY_MRSIGNER)
			memcpy(kd->mrsigner, id->mrsigner, 32);
		kd->isvsvn = req->isvsvn;
		memcpy(kd->owner_epoch, cpu->keys.owner_epoch, 16);
		kd->attributes = attributes;
		kd->attributes_mask = req->attributemask;
		memcpy(kd->keyid, req->keyid, 32);
		memcpy(kd->seal_fuses, cpu->keys.seal_fuses, 16);
		memcpy(kd->cpusvn, req->cpusvn, 16);
		kd->miscselect = miscselect;
		kd->miscmask = ~req->miscmask;
		return 0;

	case SGX_KEYNAME_REPORT:
		/* The enclave's own identity; only KEYID comes from the request. */
		cpu_keydep_report(cpu, kd, id->mrenclave, &id->attributes, id->miscselect,
				  id->config_id, id->config_svn, req->keyid);
		return 0;

	case SGX_KEYNAME_EINITTOKEN:
		if (!(id->attributes.flags & SGX_ATTR_EINITTOKENKEY))
			return SGX_INVALID_ATTRIBUTE;
		ret = svn_check(cpu, req, id, false);
		if (ret)
			return ret;
		cpu_keydep_launch(cpu, kd, id->mrsigner, id->isvprodid, req->isvsvn, req->cpusvn,
				  &attributes, miscselect, req->keyid);
		return 0;

	case SGX_KEYNAME_PROVISION:
		if (!(id->attributes.flags & SGX_ATTR_PROVISIONKEY))
			return SGX_INVALID_ATTRIBUTE;
		ret = svn_check(cpu, req, id, false);
		if (ret)
			return ret;
		memset(kd, 0, sizeof(*kd));
		kd->keyname = SGX_KEYNAME_PROVISION;
		kd->isvprodid = id->isvprodid;
		kd->isvsvn = req->isvsvn;
		kd->attributes = attributes;
		kd->attributes_mask = req->attributemask;
		memcpy(kd->mrsigner, id->mrsigner, 32);
		memcpy(kd->cpusvn, req->cpusvn, 16);
		kd->miscselect = miscselect;
		kd->miscmask = ~req->miscmask;
		return 0;

	case SGX_KEYNAME_PROVISION_SEAL:
		if (!(id->attributes.flags & SGX_ATTR_PROVISIONKEY))
			return SGX_INVALID_ATTRIBUTE;
		ret = svn_check(cpu, req, id, true);
		if (ret)
			return ret;
		memset(kd, 0, sizeof(*kd));
		kd->keyname = SGX_KEYNAME_PROVISION_SEAL;
		keydep_policy(kd, req, id);
		kd->isvsvn = req->isvsvn;
		kd->attributes = attributes;
		kd->attributes_mask = req->attributemask;
		memcpy(kd->mrsigner, id->mrsigner, 32);
		memcpy(kd->seal_fuses, cpu->keys.seal_fuses, 16);
		memcpy(kd->cpusvn, req->cpusvn, 16);
		kd->miscselect = miscselect;
		kd->miscmask = ~req->miscmask;
		return 0;

	default:
		return SGX_INVALID_KEYNAME;
	}
}

/*
 * EGETKEY for the enclave whose SECS is given.  Order as in the SDM: the
 * operands' alignment (KEYREQUEST 512, OUTPUTDATA 16) and the calling
 * enclave (#GP), the request's format (#GP), then per key name the
 * attribute, CPUSVN and ISVSVN/CONFIGSVN checks.  On any failure key is
 * left unmodified.  If OpenSSL cannot allocate, the leaf answers #MC: the
 * processor failed internally and did nothing.
 */
int enclu_egetkey(struct sgx_cpu *cpu, void *secs, const struct sgx_keyrequest *req,
		  uint8_t key[16])
{
	struct egetkey_identity id;
	struct sgx_keyrequest tmp;
	struct key_dependencies kd;
	uint8_t out[16];
	int ret;

	if (!req || ((uintptr_t)req & 511) || !key || ((uintptr_t)key & 15))
		return GP;
	ret = egetkey_identity(cpu, secs, &id);
	if (ret)
		return ret;
	memcpy(&tmp, req, sizeof(tmp));
	ret = keyrequest_check(&tmp, &id);
	if (ret)
		return ret;
	ret = egetkey_block(cpu, &tmp, &id, &kd);
	if (ret)
		goto out;
	if (cpu_derive_key(cpu, &kd, out)) {
		ret = ENCLS_MC;
		goto out;
	}
	memcpy(key, out, 16);
out:
	OPENSSL_cleanse(&kd, sizeof(kd));
	OPENSSL_cleanse(out, sizeof(out));
	return ret;
}

/* [p, p + len) lies inside ELRANGE. */
static bool in_elrange(const struct sgx_cpu_thread *t, const void *p, uint64_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)p;

	return a >= t->base && len <= t->size && a - t->base <= t->size - len;
}

/*
 * EREPORT (SDM, "EREPORT—Create a Cryptographic Report of the Enclave"):
 * the operand checks (#GP for misalignment or an operand outside the
 * enclave), then the REPORT body from the calling enclave's SECS, KEYID
 * the processor's per-boot report key id, and the MAC over the body with
 * the report key derived for the TARGETINFO's identity.  The REPORT is
 * built on the stack and written in one copy at the end.
 */
int enclu_ereport(struct sgx_cpu *cpu, const struct sgx_cpu_thread *t,
		  const struct sgx_targetinfo *targetinfo, const uint8_t reportdata[64],
		  struct sgx_report *report)
{
	struct sgx_report r __attribute__((aligned(512)));
	struct egetkey_identity id;
	struct key_dependencies kd;
	struct sgx_targetinfo ti;
	uint8_t key[16];
	int ret;

	if (!t || !t->tcs)
		return GP;
	if (((uintptr_t)targetinfo & 511) || ((uintptr_t)reportdata & 127) ||
	    ((uintptr_t)report & 511))
		return GP;
	if (!in_elrange(t, targetinfo, sizeof(*targetinfo)) || !in_elrange(t, reportdata, 64) ||
	    !in_elrange(t, report, SGX_REPORT_SIZE))
		return GP;
	ret = egetkey_identity(cpu, t->secs, &id);
	if (ret)
		return ret;
	memcpy(&ti, targetinfo, sizeof(ti));

	memset(&r, 0, sizeof(r));
	memcpy(r.body.cpusvn, cpu->cfg.cpusvn, 16);
	r.body.miscselect = id.miscselect;
	memcpy(r.body.isvextprodid, id.isvextprodid, 16);
	r.body.attributes = id.attributes;
	memcpy(r.body.mrenclave, id.mrenclave, 32);
	memcpy(r.body.mrsigner, id.mrsigner, 32);
	memcpy(r.body.config_id, id.config_id, 64);
	r.body.isvprodid = id.isvprodid;
	r.body.isvsvn = id.isvsvn;
	r.body.config_svn = id.config_svn;
	memcpy(r.body.isvfamilyid, id.isvfamilyid, 16);
	memcpy(r.body.report_data, reportdata, 64);
	/* KEYID: the per-boot value every REPORT of this boot carries, which
	 * the target hands back to EGETKEY(REPORT). */
	memcpy(r.keyid, cpu->keys.report_key_base, 16);

	cpu_keydep_report(cpu, &kd, ti.mrenclave, &ti.attributes, ti.miscselect, ti.config_id,
			  ti.config_svn, r.keyid);
	(void)cpu_derive_key(cpu, &kd, key);
	(void)cpu_cmac(key, &r.body, sizeof(r.body), r.mac);
	memcpy(report, &r, SGX_REPORT_SIZE);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(&kd, sizeof(kd));
	return 0;
}
