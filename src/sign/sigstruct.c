/*
 * sigstruct.c: building and signing SIGSTRUCTs.
 *
 * The enclave author states the enclave's identity in a SIGSTRUCT: the
 * architectural header words, MRENCLAVE and the attributes it requires,
 * and an RSA-3072 (e = 3) PKCS#1 v1.5 signature over SHA-256 of the two
 * signed regions, bytes [0, 128) and [900, 1028).  Big numbers sit in the
 * structure little-endian.  Q1 and Q2 let the processor check the
 * signature without a division of its own:
 *   Q1 = floor(s^2 / n),  Q2 = floor((s^3 - Q1 * s * n) / n).
 * The processor's checks are in cpu/sigcheck.c, written apart from this.
 */
#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "sgxemu/sign.h"
#include "sign/sign_internal.h"

#define SIGNED_HEADER_SIZE sizeof(struct sgx_sigstruct_header)
#define SIGNED_BODY_SIZE sizeof(struct sgx_sigstruct_body)

/* SHA-256 of a modulus as SIGSTRUCT holds it; 0 or -ENOMEM (mrsigner
 * zeroed). */
static int modulus_hash(const uint8_t modulus[SGX_MODULUS_SIZE], uint8_t mrsigner[32])
{
	unsigned int len = 0;

	if (!EVP_Digest(modulus, SGX_MODULUS_SIZE, mrsigner, &len, EVP_sha256(), NULL) ||
	    len != 32) {
		ERR_clear_error();
		memset(mrsigner, 0, 32);
		return -ENOMEM;
	}
	return 0;
}

/* The key's modulus, little-endian, as SIGSTRUCT.MODULUS holds it. */
static int key_modulus(EVP_PKEY *key, uint8_t modulus[SGX_MODULUS_SIZE])
{
	BIGNUM *n = NULL;
	int ret = 0;

	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    BN_bn2lebinpad(n, modulus, SGX_MODULUS_SIZE) != SGX_MODULUS_SIZE) {
		ERR_clear_error();
		ret = -ENOMEM;
	}
	BN_free(n);
	return ret;
}

void sgx_sigstruct_mrsigner(const struct sgx_sigstruct *sigstruct, uint8_t mrsigner[32])
{
	modulus_hash(sigstruct->modulus, mrsigner);
}

int sgx_key_mrsigner(EVP_PKEY *key, uint8_t mrsigner[32])
{
	uint8_t modulus[SGX_MODULUS_SIZE];
	int ret;

	memset(mrsigner, 0, 32);
	ret = sgx_key_check(key, NULL, 0);
	if (ret)
		return ret;
	ret = key_modulus(key, modulus);
	if (ret)
		return ret;
	return modulus_hash(modulus, mrsigner);
}

/* The header and body the signature covers, from params and mrenclave. */
static void sigstruct_fill(struct sgx_sigstruct *s, const struct sgx_sign_params *p,
			   const uint8_t mrenclave[32])
{
	memset(s, 0, sizeof(*s));
	s->header.header1[0] = SGX_SIGSTRUCT_HEADER1_0;
	s->header.header1[1] = SGX_SIGSTRUCT_HEADER1_1;
	s->header.vendor = p->vendor;
	s->header.date = p->date;
	s->header.header2[0] = SGX_SIGSTRUCT_HEADER2_0;
	s->header.header2[1] = SGX_SIGSTRUCT_HEADER2_1;
	s->header.swdefined = p->swdefined;
	s->exponent = SGX_SIGSTRUCT_EXPONENT;
	s->body.miscselect = p->miscselect;
	s->body.misc_mask = p->misc_mask;
	memcpy(s->body.isvfamilyid, p->isvfamilyid, sizeof(s->body.isvfamilyid));
	s->body.attributes = p->attributes;
	s->body.xfrm = p->xfrm;
	s->body.attributes_mask = p->attributes_mask;
	s->body.xfrm_mask = p->xfrm_mask;
	memcpy(s->body.mrenclave, mrenclave, sizeof(s->body.mrenclave));
	memcpy(s->body.isvextprodid, p->isvextprodid, sizeof(s->body.isvextprodid));
	s->body.isvprodid = p->isvprodid;
	s->body.isvsvn = p->isvsvn;
}

/* SHA-256 of the header and the body, the message the signature covers. */
static int sigstruct_digest(const struct sgx_sigstruct *s, uint8_t digest[32])
{
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, &s->header, SIGNED_HEADER_SIZE) &&
	     EVP_DigestUpdate(ctx, &s->body, SIGNED_BODY_SIZE) &&
	     EVP_DigestFinal_ex(ctx, digest, &len) && len == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 over digest; sig is big-endian. */
static int rsa_sign_digest(EVP_PKEY *key, const uint8_t digest[32], uint8_t sig[SGX_MODULUS_SIZE])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	size_t siglen = SGX_MODULUS_SIZE;
	int ret = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	if (EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_sign(ctx, sig, &siglen, digest, 32) <= 0)
		goto out;
	if (siglen != SGX_MODULUS_SIZE) {
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

/* Q1 = floor(s^2 / n), Q2 = floor((s^3 - Q1 s n) / n) = floor(s (s^2 mod n) / n). */
static int sigstruct_q1q2(struct sgx_sigstruct *s, const BIGNUM *n, const BIGNUM *sig)
{
	BN_CTX *bn = BN_CTX_new();
	BIGNUM *t, *q1, *r, *q2;
	int ret = -ENOMEM;

	if (!bn)
		return -ENOMEM;
	BN_CTX_start(bn);
	t = BN_CTX_get(bn);
	q1 = BN_CTX_get(bn);
	r = BN_CTX_get(bn);
	q2 = BN_CTX_get(bn);
	if (!q2 || !BN_sqr(t, sig, bn) || !BN_div(q1, r, t, n, bn) ||
	    !BN_mul(t, sig, r, bn) || !BN_div(q2, NULL, t, n, bn))
		goto out;
	if (BN_bn2lebinpad(q1, s->q1, sizeof(s->q1)) < 0 ||
	    BN_bn2lebinpad(q2, s->q2, sizeof(s->q2)) < 0)
		goto out;
	ret = 0;
out:
	BN_CTX_end(bn);
	BN_CTX_free(bn);
	return ret;
}

int sgx_sigstruct_sign(EVP_PKEY *key, const struct sgx_sign_params *params,
		       const uint8_t mrenclave[32], struct sgx_sigstruct *out)
{
	uint8_t digest[32], sig_be[SGX_MODULUS_SIZE];
	BIGNUM *n = NULL, *sig = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = sgx_key_check(key, NULL, 0);
	if (ret)
		return ret;
	if (params->vendor != 0 && params->vendor != SGX_SIGSTRUCT_VENDOR_INTEL)
		return -EINVAL;

	sigstruct_fill(out, params, mrenclave);
	ret = key_modulus(key, out->modulus);
	if (ret)
		goto out;
	ret = -ENOMEM;
	n = BN_lebin2bn(out->modulus, sizeof(out->modulus), NULL);
	if (!n)
		goto out;
	ret = sigstruct_digest(out, digest);
	if (ret)
		goto out;
	ret = rsa_sign_digest(key, digest, sig_be);
	if (ret)
		goto out;
	ret = -ENOMEM;
	sig = BN_bin2bn(sig_be, sizeof(sig_be), NULL);
	if (!sig || BN_bn2lebinpad(sig, out->signature, sizeof(out->signature)) < 0)
		goto out;
	ret = sigstruct_q1q2(out, n, sig);
out:
	if (ret) {
		ERR_clear_error();
		memset(out, 0, sizeof(*out));
	}
	OPENSSL_cleanse(sig_be, sizeof(sig_be));
	BN_free(sig);
	BN_free(n);
	return ret;
}

void sgx_sigstruct_prepare(const struct sgx_sign_params *params, const uint8_t mrenclave[32],
			   struct sgx_sigstruct *out)
{
	sigstruct_fill(out, params, mrenclave);
}

void sgx_sigstruct_signed_data(const struct sgx_sigstruct *s, uint8_t out[SGX_SIGNED_DATA_SIZE])
{
	memcpy(out, &s->header, SIGNED_HEADER_SIZE);
	memcpy(out + SIGNED_HEADER_SIZE, &s->body, SIGNED_BODY_SIZE);
}

/* RSASSA-PKCS1-v1_5 verification of sig (big-endian) over digest. */
static int rsa_verify_digest(EVP_PKEY *key, const uint8_t digest[32],
			     const uint8_t sig[SGX_MODULUS_SIZE])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ret = -ENOMEM, ok;

	if (!ctx)
		return -ENOMEM;
	if (EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0)
		goto out;
	ok = EVP_PKEY_verify(ctx, sig, SGX_MODULUS_SIZE, digest, 32);
	ret = ok == 1 ? 0 : -EBADMSG;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

int sgx_sigstruct_assemble(struct sgx_sigstruct *s, EVP_PKEY *key,
			   const uint8_t signature[SGX_MODULUS_SIZE])
{
	uint8_t digest[32];
	BIGNUM *n = NULL, *sig = NULL;
	int ret;

	ret = sgx_key_check(key, NULL, 0);
	if (ret)
		return ret;
	if (s->header.vendor != 0 && s->header.vendor != SGX_SIGSTRUCT_VENDOR_INTEL)
		return -EINVAL;
	ret = sigstruct_digest(s, digest);
	if (ret)
		return ret;
	/* Checked against the message before anything is written: a
	 * signature of other bytes, or by another key, is refused here. */
	ret = rsa_verify_digest(key, digest, signature);
	if (ret)
		return ret;
	ret = key_modulus(key, s->modulus);
	if (ret)
		goto out;
	ret = -ENOMEM;
	n = BN_lebin2bn(s->modulus, sizeof(s->modulus), NULL);
	sig = BN_bin2bn(signature, SGX_MODULUS_SIZE, NULL);
	if (!n || !sig || BN_bn2lebinpad(sig, s->signature, sizeof(s->signature)) < 0)
		goto out;
	s->exponent = SGX_SIGSTRUCT_EXPONENT;
	ret = sigstruct_q1q2(s, n, sig);
out:
	if (ret) {
		ERR_clear_error();
		memset(s->modulus, 0, sizeof(s->modulus));
		memset(s->signature, 0, sizeof(s->signature));
		memset(s->q1, 0, sizeof(s->q1));
		memset(s->q2, 0, sizeof(s->q2));
	}
	BN_free(sig);
	BN_free(n);
	return ret;
}
