/*
 * einit.c: EINIT, the last leaf of an enclave's build, and launch control.
 *
 * EINIT checks the SIGSTRUCT (sigcheck.c), finishes MRENCLAVE from the
 * SECS's private SHA-256 state and compares it with the signed one, applies
 * the SIGSTRUCT's ATTRIBUTES and MISCSELECT masks, and decides whether the
 * enclave may launch: either its signer's hash is the calling logical
 * processor's IA32_SGXLEPUBKEYHASH (the Linux driver writes it there before
 * each EINIT when the MSRs are writable), or the EINITTOKEN is VALID and
 * MACed with the launch key a launch enclave got from EGETKEY.  The checks
 * and their codes follow the SDM's pseudo-code in its order.
 *
 * Locking.  The SIGSTRUCT and token are copied first and the RSA check (the
 * expensive step, ~40 us) runs before the SECS is locked, as the SDM checks
 * the signature before it looks at the SECS.  The SECS lock is then taken
 * blocking, not tried: the SDM answers #GP when another leaf is modifying
 * the SECS, but in this model the SECS lock is also held briefly by leaves
 * the hardware lets run beside EINIT (ETRACK, EWB and ELDU of child pages,
 * EPCM snapshots), and a spurious #GP would make the driver fail the ioctl
 * with EIO.  Two EINITs of one SECS serialize; the second finds it
 * initialized and faults, as the SDM says.
 *
 * A refused EINIT changes nothing: the measurement is finished on a copy of
 * the SHA-256 state, so the enclave can be initialized later with a sound
 * SIGSTRUCT (the Linux driver retries EINIT on SGX_UNMASKED_EVENT).
 */
/* cpu_internal.h first: it allows the SHA256_* state API before OpenSSL
 * headers are read. */
#include "cpu/cpu_internal.h"

#include <string.h>

#include <openssl/crypto.h>

/* Attributes only an enclave signed by the hash in IA32_SGXLEPUBKEYHASH may
 * have (the SDM's CONTROLLED_ATTRIBUTES). */
#define CONTROLLED_ATTRIBUTES SGX_ATTR_EINITTOKENKEY

/* The token's reserved space, VALID's upper 31 bits included, is clear. */
static bool token_reserved_clear(const struct sgx_einittoken *t)
{
	return !(t->valid & ~1U) && cpu_all_zero(t->reserved1, sizeof(t->reserved1)) &&
	       cpu_all_zero(t->reserved2, sizeof(t->reserved2)) &&
	       cpu_all_zero(t->reserved3, sizeof(t->reserved3)) &&
	       cpu_all_zero(t->reserved4, sizeof(t->reserved4));
}

/*
 * The token checks for VALID=1, in the SDM's order: a debug launch enclave
 * cannot launch a production enclave; reserved space clear; CPUSVNLE not
 * beyond the machine; the MAC over the first SGX_EINITTOKEN_MACED_SIZE
 * bytes under the launch key derived from the token's fields and the
 * calling LP's IA32_SGXLEPUBKEYHASH; the token names this enclave
 * (MRENCLAVE, MRSIGNER) and its ATTRIBUTES.
 */
static int token_check(const struct sgx_cpu *cpu, const struct sgx_einittoken *t,
		       const struct sgx_secs *secs, const uint8_t mrenclave[32],
		       const uint8_t mrsigner[32], const uint8_t lehash[32])
{
	struct key_dependencies kd;
	uint8_t key[16], mac[16];
	int ret;

	if ((t->maskedattributesle.flags & SGX_ATTR_DEBUG) && !(secs->attributes & SGX_ATTR_DEBUG))
		return SGX_INVALID_EINITTOKEN;
	if (!token_reserved_clear(t))
		return SGX_INVALID_EINITTOKEN;
	if (cpu_cpusvn_beyond(cpu, t->cpusvnle))
		return SGX_INVALID_CPUSVN;

	cpu_keydep_launch(cpu, &kd, lehash, t->isvprodidle, t->isvsvnle, t->cpusvnle,
			  &t->maskedattributesle, t->maskedmiscselectle, t->keyid);
	ret = cpu_derive_key(cpu, &kd, key);
	if (!ret)
		ret = cpu_cmac(key, t, SGX_EINITTOKEN_MACED_SIZE, mac);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(&kd, sizeof(kd));
	if (ret)
		return SGX_UNMASKED_EVENT; /* out of memory: let the caller retry */
	if (CRYPTO_memcmp(mac, t->mac, sizeof(mac)))
		return SGX_INVALID_EINITTOKEN;

	if (memcmp(t->mrenclave, mrenclave, 32) || memcmp(t->mrsigner, mrsigner, 32))
		return SGX_INVALID_MEASUREMENT;
	/* The SDM's pseudo-code names this code SGX_INVALID_EINIT_ATTRIBUTE, a
	 * name its error table does not define; SGX_INVALID_ATTRIBUTE is the
	 * table's code for attributes EINIT refuses. */
	if (t->attributes.flags != secs->attributes || t->attributes.xfrm != secs->xfrm)
		return SGX_INVALID_ATTRIBUTE;
	return 0;
}

/*
 * The checks after the SECS is locked and found a valid, uninitialized
 * SECS: measurement, controlled attributes, masks, launch control.
 */
static int einit_checks(struct sgx_cpu *cpu, const struct sgx_sigstruct *sig,
			const struct sgx_einittoken *token, struct sgx_secs *secs,
			uint8_t mrenclave[32], const uint8_t mrsigner[32])
{
	const struct sgx_sigstruct_body *b = &sig->body;
	struct secs_private *priv = secs_private((uint8_t *)secs);
	uint8_t lehash[32];
	SHA256_CTX meas;

	/* The SHA-256 final block on a copy: a refusal leaves the running
	 * measurement as it was. */
	meas = priv->meas;
	SHA256_Final(mrenclave, &meas);
	OPENSSL_cleanse(&meas, sizeof(meas));
	if (memcmp(b->mrenclave, mrenclave, 32))
		return SGX_INVALID_MEASUREMENT;

	cpu_lp_lepubkeyhash(cpu, lehash);
	if ((secs->attributes & CONTROLLED_ATTRIBUTES) && memcmp(mrsigner, lehash, 32))
		return SGX_INVALID_ATTRIBUTE;
	if ((secs->attributes & b->attributes_mask) != (b->attributes & b->attributes_mask) ||
	    (secs->xfrm & b->xfrm_mask) != (b->xfrm & b->xfrm_mask))
		return SGX_INVALID_ATTRIBUTE;
	if ((secs->miscselect & b->misc_mask) != (b->miscselect & b->misc_mask))
		return SGX_INVALID_ATTRIBUTE;

	if (!(token->valid & 1))
		return memcmp(mrsigner, lehash, 32) ? SGX_INVALID_EINITTOKEN : 0;
	return token_check(cpu, token, secs, mrenclave, mrsigner, lehash);
}

int encls_einit(struct sgx_cpu *cpu, const struct sgx_sigstruct *sigstruct,
		const struct sgx_einittoken *token, void *secs_epc)
{
	/* TMP_SIG and TMP_TOKEN: the operands are read once, before any check,
	 * so that software changing them meanwhile cannot split the checks. */
	struct sgx_sigstruct sig;
	struct sgx_einittoken tok;
	uint8_t mrenclave[32], mrsigner[32];
	struct secs_private *priv;
	struct sgx_secs *secs;
	struct epcm_entry *e;
	uint64_t idx;
	int ret;

	if (((uintptr_t)sigstruct & (SGX_PAGE_SIZE - 1)) ||
	    ((uintptr_t)secs_epc & (SGX_PAGE_SIZE - 1)))
		return GP;
	if ((uintptr_t)token & 511)
		return GP;
	ret = cpu_epc_operand(cpu, secs_epc, &idx);
	if (ret)
		return ret;
	if (!sigstruct || !token)
		return PF; /* reading page 0 */
	memcpy(&sig, sigstruct, sizeof(sig));
	memset(&tok, 0, sizeof(tok));
	memcpy(&tok, token, SGX_EINITTOKEN_SIZE);

	ret = sgx_sigstruct_check(&sig, mrsigner);
	if (ret)
		return ret;

	/* The Base Concurrency Restrictions of EINIT: SECS [DS:RCX] Shared,
	 * #GP on conflict. */
	ret = cpu_conflict_as(cpu_operand_lock(cpu, idx), GP);
	if (ret)
		return ret;
	e = &cpu->epcm[idx];
	if (!e->valid || e->type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out_unlock;
	}
	secs = (struct sgx_secs *)cpu_frame_ptr(cpu, idx);
	priv = secs_private((uint8_t *)secs);
	/* SDM, EINIT: "Verify ISVFAMILYID is not used on an enclave with KSS
	 * disabled", right after the SECS is found valid.  The SDM makes no
	 * such check of ISVEXTPRODID: it is copied in either way, though only
	 * a KSS enclave's keys can depend on it. */
	if (!(secs->attributes & SGX_ATTR_KSS) &&
	    !cpu_all_zero(sig.body.isvfamilyid, sizeof(sig.body.isvfamilyid))) {
		ret = SGX_INVALID_SIG_STRUCT;
		goto out_unlock;
	}

	/* Then the SECS's initialized state (#GP), as the pseudo-code's next
	 * step makes sure no other instruction changes it. */
	if (priv->initialized) {
		ret = GP;
		goto out_unlock;
	}

	ret = einit_checks(cpu, &sig, &tok, secs, mrenclave, mrsigner);
	if (ret)
		goto out_unlock;

	memcpy(secs->mrenclave, mrenclave, 32);
	memcpy(secs->mrsigner, mrsigner, 32);
	secs->isv_prod_id = sig.body.isvprodid;
	secs->isv_svn = sig.body.isvsvn;
	secs->attributes |= SGX_ATTR_INIT;
	/* "DS:RCX.ISVEXTPRODID <- TMP_SIG.ISVEXTPRODID", "DS:RCX.ISVFAMILYID
	 * <- TMP_SIG.ISVFAMILYID": kept with the processor's private SECS
	 * state, where EGETKEY reads them (and EREPORT will). */
	memcpy(priv->isvfamilyid, sig.body.isvfamilyid, sizeof(priv->isvfamilyid));
	memcpy(priv->isvextprodid, sig.body.isvextprodid, sizeof(priv->isvextprodid));
	priv->initialized = 1;
out_unlock:
	cpu_frame_unlock(cpu, idx);
	return ret;
}
