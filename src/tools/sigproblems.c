/*
 * sigproblems.c: every rule a SIGSTRUCT breaks, in words, for show and
 * check to print beside the processor's one-word verdict.
 *
 * The rules are the ones sgx_sigstruct_check() (src/cpu/sigcheck.c)
 * applies, from the SDM's EINIT operation and SIGSTRUCT layout, but all of
 * them, where the processor stops at the first:
 *
 *   structure (SGX_INVALID_SIG_STRUCT): HEADER (bytes 0..15) and HEADER2
 *   (24..39) are the architectural streams, VENDOR (16..19) is 0 or
 *   8086h, EXPONENT (512..515) is 3, and the reserved ranges 44..127,
 *   992..1007 and 1028..1039 are zero.  ISVFAMILYID (912..927),
 *   ISVEXTPRODID (1008..1023) and the CET bytes (908..911) are not
 *   reserved.
 *
 *   signature (SGX_INVALID_SIGNATURE): with s the signature and n the
 *   modulus, s < n; Q1 = floor(s^2 / n); Q2 = floor(s (s^2 mod n) / n);
 *   s^3 mod n is the PKCS#1 v1.5 encoding of SHA-256 over bytes 0..127
 *   and 900..1027.  The processor's r1 = s^2 - Q1 n and r2 = s r1 - Q2 n
 *   lie in [0, n) exactly when Q1 and Q2 are these quotients, so each is
 *   judged on its own here against the true values.
 *
 * So the list is empty exactly when the processor accepts, and holds a
 * structural problem exactly when it answers SGX_INVALID_SIG_STRUCT.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "sgxemu/cpu.h"
#include "tools/json.h"
#include "tools/tools.h"

#define KEY_BYTES 384

static void add(struct sig_problems *p, bool structural, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct sig_problems *p, bool structural, const char *fmt, ...)
{
	va_list ap;

	if (structural)
		p->structural++;
	if (p->nr == SIG_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(p->text[p->nr++], sizeof(p->text[0]), fmt, ap);
	va_end(ap);
}

static uint32_t le32(const uint8_t *b)
{
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void check_reserved(struct sig_problems *p, const uint8_t *b, size_t from, size_t to,
			   const char *name)
{
	for (size_t i = from; i < to; i++)
		if (b[i]) {
			add(p, true, "%s (bytes %zu..%zu) must be zero: byte %zu is 0x%02x", name,
			    from, to - 1, i, b[i]);
			return;
		}
}

static void check_structure(struct sig_problems *p, const uint8_t *b)
{
	uint32_t vendor = le32(b + 16), exponent = le32(b + 512);

	const struct sgx_sigstruct *s = (const struct sgx_sigstruct *)b;

	if (s->header.header1[0] != SGX_SIGSTRUCT_HEADER1_0 ||
	    s->header.header1[1] != SGX_SIGSTRUCT_HEADER1_1)
		add(p, true, "header (bytes 0..15) is not the architectural 06000000e10000000000010000000000");
	if (vendor != 0 && vendor != 0x8086)
		add(p, true, "vendor (bytes 16..19) is %#x; it must be 0 or 0x8086", vendor);
	if (s->header.header2[0] != SGX_SIGSTRUCT_HEADER2_0 ||
	    s->header.header2[1] != SGX_SIGSTRUCT_HEADER2_1)
		add(p, true, "header2 (bytes 24..39) is not the architectural 01010000600000006000000001000000");
	if (exponent != 3)
		add(p, true, "exponent (bytes 512..515) is %u; it must be 3", exponent);
	check_reserved(p, b, 44, 128, "reserved1");
	check_reserved(p, b, 992, 1008, "reserved3");
	check_reserved(p, b, 1028, 1040, "reserved4");
}

static void check_signature(struct sig_problems *p, const uint8_t *b)
{
	uint8_t em[KEY_BYTES], got[KEY_BYTES];
	BIGNUM *n, *s, *q1, *q2, *q1t, *q2t, *r1, *t, *r3;
	BN_CTX *ctx = BN_CTX_new();

	if (!ctx) {
		add(p, false, "the signature could not be checked: out of memory");
		return;
	}
	BN_CTX_start(ctx);
	n = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	q2 = BN_CTX_get(ctx);
	q1t = BN_CTX_get(ctx);
	q2t = BN_CTX_get(ctx);
	r1 = BN_CTX_get(ctx);
	t = BN_CTX_get(ctx);
	r3 = BN_CTX_get(ctx);
	if (!r3 || !BN_lebin2bn(b + 128, KEY_BYTES, n) || !BN_lebin2bn(b + 516, KEY_BYTES, s) ||
	    !BN_lebin2bn(b + 1040, KEY_BYTES, q1) || !BN_lebin2bn(b + 1424, KEY_BYTES, q2)) {
		add(p, false, "the signature could not be checked: out of memory");
		goto out;
	}
	if (BN_is_zero(n)) {
		add(p, false, "modulus (bytes 128..511) is zero");
		goto out;
	}
	if (BN_cmp(s, n) >= 0)
		add(p, false, "signature (bytes 516..899) is not less than the modulus");
	/* The true quotients: q1t = s^2 / n (r1 the rest), q2t = s r1 / n. */
	if (!BN_sqr(t, s, ctx) || !BN_div(q1t, r1, t, n, ctx) || !BN_mul(t, s, r1, ctx) ||
	    !BN_div(q2t, NULL, t, n, ctx)) {
		add(p, false, "the signature could not be checked: out of memory");
		goto out;
	}
	if (BN_cmp(q1, q1t))
		add(p, false, "q1 (bytes 1040..1423) is not floor(signature^2 / modulus)");
	if (BN_cmp(q2, q2t))
		add(p, false, "q2 (bytes 1424..1807) is not floor(signature * (signature^2 mod modulus) / modulus)");
	/* s^3 mod n: (s^2 mod n) s mod n. */
	if (!BN_mod_mul(r3, r1, s, n, ctx) || BN_bn2binpad(r3, got, sizeof(got)) < 0 ||
	    !sgx_sigstruct_encoding((const struct sgx_sigstruct *)b, em)) {
		add(p, false, "the signature could not be checked: out of memory");
		goto out;
	}
	if (memcmp(got, em, sizeof(em)))
		add(p, false, "signature (bytes 516..899): signature^3 mod modulus is not the PKCS#1 v1.5 SHA-256 encoding of bytes 0..127 and 900..1027");
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
}

void sigstruct_problems(const struct sgx_sigstruct *ss, struct sig_problems *p)
{
	const uint8_t *b = (const uint8_t *)ss;

	memset(p, 0, sizeof(*p));
	check_structure(p, b);
	check_signature(p, b);
}

void tool_print_problems(const char *cmd, const char *path, const struct sig_problems *p,
			 struct json *j)
{
	for (int i = 0; i < p->nr; i++)
		fprintf(stderr, "sgxemu %s: %s: %s\n", cmd, path, p->text[i]);
	if (!j)
		return;
	json_begin_array(j, "problems");
	for (int i = 0; i < p->nr; i++)
		json_string(j, NULL, p->text[i]);
	json_end_array(j);
}
