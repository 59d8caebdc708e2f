/*
 * sigcheck.c: the checks EINIT makes of a SIGSTRUCT on its own.
 *
 * Written from the SDM's EINIT operation and SIGSTRUCT table, apart from
 * the signer in src/sign/, so that the two can catch each other out:
 *
 *  1. The structure: HEADER and HEADER2 are the architectural byte
 *     streams, VENDOR is 0 or 8086h, EXPONENT is 3, and every reserved
 *     field (bytes 44-127, 992-1007, 1028-1039) is zero; else
 *     SGX_INVALID_SIG_STRUCT.  Bytes 912-927 (ISVFAMILYID) and 1008-1023
 *     (ISVEXTPRODID) are not reserved: they are KSS identity, and only
 *     EINIT, which sees the SECS, refuses an ISVFAMILYID without KSS.
 *     Bytes 908-911 hold CET attributes on parts with CET in enclaves and
 *     are not looked at.
 *  2. The signature, as the processor verifies it with Q1 and Q2 instead
 *     of a division of its own: with s the signature and n the modulus,
 *     s < n; r1 = s^2 - Q1 n lies in [0, n); r2 = s r1 - Q2 n lies in
 *     [0, n), so r2 = s^3 mod n; and r2, read big-endian, is the PKCS#1
 *     v1.5 encoding of SHA-256 over bytes [0, 128) and [900, 1028).  Any
 *     failure is SGX_INVALID_SIGNATURE.
 *
 * No global state: each call has its own BN_CTX, so any number of threads
 * may check at once.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "sgxemu/cpu.h"

/* PKCS#1 v1.5 DigestInfo prefix for SHA-256 (RFC 8017, section 9.2). */
static const uint8_t sha256_digestinfo[19] = {
	0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* Byte ranges of SIGSTRUCT, as the SDM numbers them. */
#define SIG_OFF_HEADER 0
#define SIG_OFF_VENDOR 16
#define SIG_OFF_HEADER2 24
#define SIG_OFF_RESERVED1 44
#define SIG_OFF_MODULUS 128
#define SIG_OFF_EXPONENT 512
#define SIG_OFF_SIGNATURE 516
#define SIG_OFF_BODY 900
#define SIG_OFF_RESERVED3 992
#define SIG_OFF_ISVEXTPRODID 1008
#define SIG_OFF_RESERVED4 1028
#define SIG_OFF_Q1 1040
#define SIG_OFF_Q2 1424
#define SIG_SIZE 1808
#define SIG_KEY_BYTES 384

_Static_assert(sizeof(struct sgx_sigstruct) == SIG_SIZE, "SIGSTRUCT is 1808 bytes");

static bool zero_range(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i])
			return false;
	return true;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Step 1: the fields that are not the signature's business. */
static bool sigstruct_well_formed(const uint8_t *b)
{
	const struct sgx_sigstruct_header *h = (const struct sgx_sigstruct_header *)b;
	uint32_t vendor = le32(b + SIG_OFF_VENDOR);

	/* HEADER and HEADER2 are the architectural words (arch.h). */
	if (h->header1[0] != SGX_SIGSTRUCT_HEADER1_0 || h->header1[1] != SGX_SIGSTRUCT_HEADER1_1 ||
	    h->header2[0] != SGX_SIGSTRUCT_HEADER2_0 || h->header2[1] != SGX_SIGSTRUCT_HEADER2_1)
		return false;
	if (vendor != 0 && vendor != 0x8086)
		return false;
	if (le32(b + SIG_OFF_EXPONENT) != 3)
		return false;
	return zero_range(b, SIG_OFF_RESERVED1, SIG_OFF_MODULUS) &&
	       zero_range(b, SIG_OFF_RESERVED3, SIG_OFF_ISVEXTPRODID) &&
	       zero_range(b, SIG_OFF_RESERVED4, SIG_OFF_Q1);
}

bool sgx_sigstruct_encoding(const struct sgx_sigstruct *s, uint8_t em[SGX_MODULUS_SIZE])
{
	const uint8_t *b = (const uint8_t *)s;
	const size_t pad = SIG_KEY_BYTES - 3 - sizeof(sha256_digestinfo) - 32;
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xFF, pad);
	em[2 + pad] = 0x00;
	memcpy(em + 3 + pad, sha256_digestinfo, sizeof(sha256_digestinfo));
	if (!ctx)
		return false;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, b + SIG_OFF_HEADER, SIG_OFF_MODULUS - SIG_OFF_HEADER) &&
	     EVP_DigestUpdate(ctx, b + SIG_OFF_BODY, SIG_OFF_RESERVED4 - SIG_OFF_BODY) &&
	     EVP_DigestFinal_ex(ctx, em + SIG_KEY_BYTES - 32, &len) && len == 32;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* 0 <= v < n */
static bool in_residue_range(const BIGNUM *v, const BIGNUM *n)
{
	return !BN_is_negative(v) && BN_cmp(v, n) < 0;
}

/* Step 2.  Any failure to compute, allocation included, refuses. */
static bool signature_verifies(const uint8_t *b)
{
	uint8_t em[SIG_KEY_BYTES], got[SIG_KEY_BYTES];
	BIGNUM *n, *s, *q1, *q2, *r1, *r2, *t;
	BN_CTX *ctx = BN_CTX_new();
	bool ok = false;

	if (!ctx)
		return false;
	BN_CTX_start(ctx);
	n = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	q2 = BN_CTX_get(ctx);
	r1 = BN_CTX_get(ctx);
	r2 = BN_CTX_get(ctx);
	t = BN_CTX_get(ctx);
	if (!t)
		goto out;
	if (!BN_lebin2bn(b + SIG_OFF_MODULUS, SIG_KEY_BYTES, n) ||
	    !BN_lebin2bn(b + SIG_OFF_SIGNATURE, SIG_KEY_BYTES, s) ||
	    !BN_lebin2bn(b + SIG_OFF_Q1, SIG_KEY_BYTES, q1) ||
	    !BN_lebin2bn(b + SIG_OFF_Q2, SIG_KEY_BYTES, q2))
		goto out;
	if (!in_residue_range(s, n))
		goto out;
	/* r1 = s^2 - q1 n, which is s^2 mod n exactly when Q1 is right. */
	if (!BN_sqr(r1, s, ctx) || !BN_mul(t, q1, n, ctx) || !BN_sub(r1, r1, t))
		goto out;
	if (!in_residue_range(r1, n))
		goto out;
	/* r2 = s r1 - q2 n = s^3 - q1 s n - q2 n: s^3 mod n when Q2 is right. */
	if (!BN_mul(r2, s, r1, ctx) || !BN_mul(t, q2, n, ctx) || !BN_sub(r2, r2, t))
		goto out;
	if (!in_residue_range(r2, n))
		goto out;
	if (BN_bn2binpad(r2, got, sizeof(got)) < 0 || !sgx_sigstruct_encoding((const struct sgx_sigstruct *)b, em))
		goto out;
	ok = memcmp(got, em, sizeof(em)) == 0;
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return ok;
}

int sgx_sigstruct_check(const struct sgx_sigstruct *sigstruct, uint8_t mrsigner[32])
{
	const uint8_t *b = (const uint8_t *)sigstruct;

	if (mrsigner) {
		unsigned int len = 32;

		if (!EVP_Digest(b + SIG_OFF_MODULUS, SIG_KEY_BYTES, mrsigner, &len, EVP_sha256(), NULL))
			memset(mrsigner, 0, 32);
	}
	if (!sigstruct_well_formed(b))
		return SGX_INVALID_SIG_STRUCT;
	if (!signature_verifies(b))
		return SGX_INVALID_SIGNATURE;
	return SGX_SUCCESS;
}
