/*
 * test_identity.c: enclave identity against an independent oracle.
 *
 * MRENCLAVE and SIGSTRUCT bytes are compared with vectors that
 * ../shared/oracle/sgxref.py computed (tests/vectors/, see gen_vectors.py
 * there for the format and the page PRNG), and, when Python and the oracle
 * are at hand, with fresh builds the oracle signs while the test runs.
 * The processor's SIGSTRUCT check (cpu/sigcheck.c) must accept every sound
 * SIGSTRUCT and refuse every single-byte change with the code the
 * architecture's rule gives for that byte.  SGXS streams round-trip and
 * malformed ones, like bad keys, fail with -EINVAL and a message.
 */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "sgxemu/cpu.h"
#include "harness.h"
#include "sgxemu/sign.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define VEC_DIR SGXEMU_TEST_DATA "/vectors"
#define MAX_VEC_PAGES 64
#define ORACLE_PATH SGXEMU_SOURCE_DIR "/../shared/oracle/sgxref.py"

/*
 * Each case runs in a child that leaves by _exit(), where LeakSanitizer
 * does not look: cases end here so that anything they or the library
 * leaked fails them under ASan.
 */
static void no_leaks(void)
{
#ifdef __SANITIZE_ADDRESS__
	CHECK_MSG(__lsan_do_recoverable_leak_check() == 0, "memory leaked (report above)");
#endif
}

/* --- vectors ------------------------------------------------------------- */

struct vec_page {
	uint64_t offset, flags;
	int kind; /* 0 unmeasured, 1 measured PRNG contents, 2 measured zero */
};

struct vec {
	uint64_t seed, size;
	uint32_t ssa;
	struct sgx_sign_params params;
	uint8_t mrenclave[32], sighash[32];
	size_t nr_pages;
	struct vec_page pages[MAX_VEC_PAGES];
};

/* Page j of a build with this seed: see tests/vectors/gen_vectors.py. */
static void page_bytes(uint64_t seed, size_t j, uint8_t *out)
{
	uint64_t state = seed + (j + 1) * 0x9E3779B97F4A7C15ULL;

	if (!state)
		state = 1;
	for (size_t i = 0; i < SGX_PAGE_SIZE / 8; i++) {
		uint64_t w = harness_rand(&state);

		memcpy(out + 8 * i, &w, 8);
	}
}

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	CHECK_MSG(strlen(hex) == 2 * n, "hex string of %zu chars, want %zu", strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		CHECK(sscanf(hex + 2 * i, "%2x", &b) == 1);
		out[i] = b;
	}
}

static uint64_t next_hex(char **save)
{
	char *tok = strtok_r(NULL, " \n", save), *end;
	uint64_t v;

	CHECK_MSG(tok, "vector line ends early");
	v = strtoull(tok, &end, 16);
	CHECK_MSG(*end == 0, "bad number \"%s\" in a vector line", tok);
	return v;
}

static void parse_vec(char *line, struct vec *v)
{
	char *save, *tok;
	uint64_t f[14];

	memset(v, 0, sizeof(*v));
	tok = strtok_r(line, " \n", &save);
	CHECK(tok && !strcmp(tok, "B"));
	for (int i = 0; i < 14; i++)
		f[i] = next_hex(&save);
	v->seed = f[0];
	v->size = f[1];
	v->ssa = f[2];
	v->params.vendor = f[3];
	v->params.date = f[4];
	v->params.swdefined = f[5];
	v->params.miscselect = f[6];
	v->params.misc_mask = f[7];
	v->params.attributes = f[8];
	v->params.xfrm = f[9];
	v->params.attributes_mask = f[10];
	v->params.xfrm_mask = f[11];
	v->params.isvprodid = f[12];
	v->params.isvsvn = f[13];
	hex_to_bytes(strtok_r(NULL, " \n", &save), v->mrenclave, 32);
	hex_to_bytes(strtok_r(NULL, " \n", &save), v->sighash, 32);
	v->nr_pages = next_hex(&save);
	CHECK_LE(v->nr_pages, MAX_VEC_PAGES);
	for (size_t j = 0; j < v->nr_pages; j++) {
		struct vec_page *p = &v->pages[j];
		unsigned long long off, flags;
		int kind;

		tok = strtok_r(NULL, " \n", &save);
		CHECK_MSG(tok && sscanf(tok, "%llx:%llx:%d", &off, &flags, &kind) == 3,
			  "bad page \"%s\"", tok ? tok : "(none)");
		p->offset = off;
		p->flags = flags;
		p->kind = kind;
	}
	CHECK_MSG(!strtok_r(NULL, " \n", &save), "vector line has extra words");
}

/* Reads every vector; returns how many (the array is malloc'd). */
static size_t load_vectors(struct vec **out)
{
	FILE *f = fopen(VEC_DIR "/identity.txt", "r");
	size_t n = 0, cap = 0;
	struct vec *v = NULL;
	char line[8192];

	CHECK_MSG(f, "%s/identity.txt: %s", VEC_DIR, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		CHECK_MSG(strchr(line, '\n'), "vector line longer than %zu", sizeof(line));
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = realloc(v, cap * sizeof(*v));
			CHECK(v);
		}
		parse_vec(line, &v[n++]);
	}
	fclose(f);
	*out = v;
	return n;
}

/*
 * The layout of a vector.  Unmeasured pages get PRNG contents when
 * unmeasured_data is set (they must not change MRENCLAVE), NULL otherwise
 * (as the oracle's SGXS stream has them).
 */
static void vec_layout(const struct vec *v, bool unmeasured_data, struct sgx_layout *l)
{
	uint8_t *data;

	memset(l, 0, sizeof(*l));
	l->size = v->size;
	l->ssa_frame_size = v->ssa;
	l->miscselect = v->params.miscselect;
	l->attributes = v->params.attributes;
	l->xfrm = v->params.xfrm;
	l->nr_pages = v->nr_pages;
	l->pages = calloc(v->nr_pages ? v->nr_pages : 1, sizeof(*l->pages));
	data = malloc((v->nr_pages ? v->nr_pages : 1) * SGX_PAGE_SIZE);
	CHECK(l->pages && data);
	l->storage = data;
	l->storage_size = v->nr_pages * SGX_PAGE_SIZE;
	for (size_t j = 0; j < v->nr_pages; j++) {
		struct sgx_layout_page *p = &l->pages[j];

		p->offset = v->pages[j].offset;
		p->secinfo_flags = v->pages[j].flags;
		p->measure = v->pages[j].kind != 0;
		if (v->pages[j].kind == 1 || (v->pages[j].kind == 0 && unmeasured_data)) {
			page_bytes(v->seed, j, data + j * SGX_PAGE_SIZE);
			p->data = data + j * SGX_PAGE_SIZE;
		}
	}
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	CHECK(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL));
}

static void print_hex(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s ", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", p[i]);
	fputc('\n', stderr);
}

#define CHECK_HASH(got, want)                                                  \
	do {                                                                   \
		if (memcmp((got), (want), 32)) {                               \
			print_hex("got ", (got), 32);                          \
			print_hex("want", (want), 32);                         \
		}                                                              \
		CHECK_MEM((got), (want), 32);                                  \
	} while (0)

static void *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	CHECK_MSG(f, "%s: %s", path, strerror(errno));
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK_GE(n, 0);
	rewind(f);
	buf = malloc(n ? n : 1);
	CHECK(buf);
	CHECK_EQ(fread(buf, 1, n, f), n);
	fclose(f);
	*len = n;
	return buf;
}

static void write_all(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK_MSG(f, "%s: %s", path, strerror(errno));
	CHECK_EQ(fwrite(p, 1, n, f), n);
	CHECK_EQ(fclose(f), 0);
}

static EVP_PKEY *oracle_key(void)
{
	char err[256] = "";
	EVP_PKEY *key;
	int ret = sgx_key_load(VEC_DIR "/oracle_key.pem", &key, err, sizeof(err));

	CHECK_MSG(ret == 0, "oracle_key.pem: %d: %s", ret, err);
	return key;
}

/* Names the SIGSTRUCT field holding byte off, for messages. */
static const char *sig_field(size_t off)
{
	static const struct {
		size_t end;
		const char *name;
	} fields[] = {
		{ 16, "HEADER" }, { 20, "VENDOR" }, { 24, "DATE" }, { 40, "HEADER2" },
		{ 44, "SWDEFINED" }, { 128, "RESERVED1" }, { 512, "MODULUS" },
		{ 516, "EXPONENT" }, { 900, "SIGNATURE" }, { 904, "MISCSELECT" },
		{ 908, "MISCMASK" }, { 912, "CET" }, { 928, "ISVFAMILYID" },
		{ 944, "ATTRIBUTES/XFRM" }, { 960, "ATTRIBUTEMASK" }, { 992, "ENCLAVEHASH" },
		{ 1008, "RESERVED3" }, { 1024, "ISVEXTPRODID" },
		{ 1026, "ISVPRODID" }, { 1028, "ISVSVN" }, { 1040, "RESERVED4" },
		{ 1424, "Q1" }, { 1808, "Q2" },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (off < fields[i].end)
			return fields[i].name;
	return "past the end";
}

static void check_same_sigstruct(const struct sgx_sigstruct *got, const uint8_t *want)
{
	const uint8_t *g = (const uint8_t *)got;

	for (size_t i = 0; i < sizeof(*got); i++)
		CHECK_MSG(g[i] == want[i], "SIGSTRUCT byte %zu (%s): got %#04x, oracle %#04x", i,
			  sig_field(i), g[i], want[i]);
}

/* Signs a vector's build and checks MRENCLAVE and the SIGSTRUCT hash. */
static void check_vector(EVP_PKEY *key, const struct vec *v, size_t idx,
			 struct sgx_sigstruct *sig)
{
	uint8_t mrenclave[32], hash[32];
	struct sgx_layout l;

	vec_layout(v, true, &l);
	CHECK_EQ(sgx_layout_measure(&l, mrenclave), 0);
	if (memcmp(mrenclave, v->mrenclave, 32))
		fprintf(stderr, "  build %zu: MRENCLAVE differs\n", idx);
	CHECK_HASH(mrenclave, v->mrenclave);
	sgx_layout_free(&l);

	CHECK_EQ(sgx_sigstruct_sign(key, &v->params, mrenclave, sig), 0);
	sha256(sig, sizeof(*sig), hash);
	if (idx < 2) {
		char path[512];
		size_t len;
		uint8_t *want;

		snprintf(path, sizeof(path), VEC_DIR "/sig_%03zu.bin", idx);
		want = read_all(path, &len);
		CHECK_EQ(len, sizeof(*sig));
		check_same_sigstruct(sig, want);
		free(want);
	}
	if (memcmp(hash, v->sighash, 32))
		fprintf(stderr, "  build %zu: SIGSTRUCT differs from the oracle's\n", idx);
	CHECK_HASH(hash, v->sighash);
}

TEST(vectors_match_oracle)
{
	EVP_PKEY *key = oracle_key();
	uint8_t mrsigner[32], mrsigner2[32];
	struct sgx_sigstruct sig;
	struct vec *v;
	size_t n = load_vectors(&v);

	CHECK_GE(n, 200);
	for (size_t i = 0; i < n; i++) {
		check_vector(key, &v[i], i, &sig);
		/* A sound SIGSTRUCT passes the processor's check. */
		CHECK_SGX(sgx_sigstruct_check(&sig, mrsigner), SGX_SUCCESS);
		sgx_sigstruct_mrsigner(&sig, mrsigner2);
		CHECK_MEM(mrsigner, mrsigner2, 32);
	}
	/* MRSIGNER is SHA-256 of the little-endian modulus of the key. */
	{
		BIGNUM *nbn = NULL;
		uint8_t mod[SGX_MODULUS_SIZE];

		CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &nbn));
		CHECK_EQ(BN_bn2lebinpad(nbn, mod, sizeof(mod)), sizeof(mod));
		sha256(mod, sizeof(mod), mrsigner2);
		CHECK_MEM(mrsigner, mrsigner2, 32);
		BN_free(nbn);
	}
	printf("  %zu builds agree with the oracle\n", n);
	free(v);
	EVP_PKEY_free(key);
	no_leaks();
}

/* --- the processor's check, byte by byte --------------------------------- */

static bool in(size_t off, size_t start, size_t size)
{
	return off >= start && off < start + size;
}

#define FIELD(f) offsetof(struct sgx_sigstruct, f), sizeof(((struct sgx_sigstruct *)0)->f)

/*
 * The code EINIT gives for a SIGSTRUCT whose byte off was changed, from the
 * rule: the header words, a VENDOR other than 0 and 0x8086, the exponent
 * and the reserved fields (44..127, 992..1007, 1028..1039; not the KSS
 * fields ISVFAMILYID and ISVEXTPRODID) make the structure invalid; any other change
 * breaks the signature (the signed regions, the modulus, the signature,
 * Q1 and Q2).
 */
static int expected_code(const struct sgx_sigstruct *mutated, size_t off)
{
	if (in(off, FIELD(header.header1)) || in(off, FIELD(header.header2)) ||
	    in(off, FIELD(header.reserved1)) || in(off, FIELD(exponent)) ||
	    in(off, FIELD(body.reserved3)) ||
	    in(off, FIELD(reserved4)))
		return SGX_INVALID_SIG_STRUCT;
	if (in(off, FIELD(header.vendor)) && mutated->header.vendor != 0 &&
	    mutated->header.vendor != SGX_SIGSTRUCT_VENDOR_INTEL)
		return SGX_INVALID_SIG_STRUCT;
	return SGX_INVALID_SIGNATURE;
}

/* Changes every byte two ways; returns the number of checks made. */
static size_t mutate_every_byte(const struct sgx_sigstruct *sound, uint64_t *rng,
				size_t counts[2])
{
	struct sgx_sigstruct m;
	uint8_t *b = (uint8_t *)&m;
	size_t checks = 0;

	for (size_t off = 0; off < sizeof(m); off++) {
		uint8_t other;

		do
			other = harness_rand(rng) & 0xFF;
		while (other == 0 || other == 1);
		for (int k = 0; k < 2; k++) {
			int want, got;

			m = *sound;
			b[off] ^= k == 0 ? 0x01 : other;
			want = expected_code(&m, off);
			got = sgx_sigstruct_check(&m, NULL);
			CHECK_MSG(got == want, "byte %zu (%s) ^ %#x: got %s, want %s", off, sig_field(off),
				  k == 0 ? 1 : other, sgx_error_name(got), sgx_error_name(want));
			counts[want == SGX_INVALID_SIG_STRUCT]++;
			checks++;
		}
	}
	return checks;
}

TEST(sigcheck_refuses_every_byte_change)
{
	EVP_PKEY *key = oracle_key();
	size_t n, checks = 0, counts[2] = { 0, 0 }, nr_full;
	uint64_t rng = harness_seed(0x5EED);
	struct sgx_sigstruct sig;
	uint8_t mrenclave[32];
	struct vec *v;

	n = load_vectors(&v);
	nr_full = harness_sanitized() ? 8 : 32;
	for (size_t i = 0; i < n && i < nr_full; i++) {
		check_vector(key, &v[i], i, &sig);
		CHECK_SGX(sgx_sigstruct_check(&sig, NULL), SGX_SUCCESS);
		checks += mutate_every_byte(&sig, &rng, counts);
	}
	/* Vendor 0x8086 -> 0x8000 or 0x0086: one byte, and invalid. */
	CHECK_EQ(v[1].params.vendor, SGX_SIGSTRUCT_VENDOR_INTEL);
	/* One random byte of every other vector. */
	for (size_t i = nr_full; i < n; i++) {
		struct sgx_sigstruct m;
		size_t off = harness_rand(&rng) % sizeof(m);
		uint8_t x = 1 + harness_rand(&rng) % 255;

		check_vector(key, &v[i], i, &sig);
		m = sig;
		((uint8_t *)&m)[off] ^= x;
		CHECK_SGX(sgx_sigstruct_check(&m, NULL), expected_code(&m, off));
		checks++;
	}
	/* The vendor rule: 0 <-> 0x8086 is a signature matter, not a structure one. */
	check_vector(key, &v[0], 0, &sig);
	sig.header.vendor = SGX_SIGSTRUCT_VENDOR_INTEL;
	CHECK_SGX(sgx_sigstruct_check(&sig, NULL), SGX_INVALID_SIGNATURE);
	sig.header.vendor = 0x8087;
	CHECK_SGX(sgx_sigstruct_check(&sig, NULL), SGX_INVALID_SIG_STRUCT);
	/* The same message under a signature of a different vendor verifies. */
	memcpy(mrenclave, v[0].mrenclave, 32);
	{
		struct sgx_sign_params p = v[0].params;

		p.vendor = SGX_SIGSTRUCT_VENDOR_INTEL;
		CHECK_EQ(sgx_sigstruct_sign(key, &p, mrenclave, &sig), 0);
		CHECK_SGX(sgx_sigstruct_check(&sig, NULL), SGX_SUCCESS);
		p.vendor = 1;
		CHECK_EQ(sgx_sigstruct_sign(key, &p, mrenclave, &sig), -EINVAL);
	}
	printf("  %zu changed SIGSTRUCTs refused: %zu as INVALID_SIG_STRUCT, %zu as INVALID_SIGNATURE\n",
	       checks, counts[1], counts[0]);
	CHECK_GT(counts[0], 0);
	CHECK_GT(counts[1], 0);
	free(v);
	EVP_PKEY_free(key);
	no_leaks();
}

/* A signature that is not below the modulus, and a zero modulus. */
TEST(sigcheck_signature_range)
{
	EVP_PKEY *key = oracle_key();
	struct sgx_sigstruct sig, m;
	struct vec *v;

	load_vectors(&v);
	check_vector(key, &v[0], 0, &sig);
	m = sig;
	memcpy(m.signature, m.modulus, sizeof(m.signature)); /* s == n */
	CHECK_SGX(sgx_sigstruct_check(&m, NULL), SGX_INVALID_SIGNATURE);
	memset(m.signature, 0xFF, sizeof(m.signature)); /* s > n */
	CHECK_SGX(sgx_sigstruct_check(&m, NULL), SGX_INVALID_SIGNATURE);
	m = sig;
	memset(m.modulus, 0, sizeof(m.modulus));
	CHECK_SGX(sgx_sigstruct_check(&m, NULL), SGX_INVALID_SIGNATURE);
	m = sig;
	memset(m.signature, 0, sizeof(m.signature)); /* s = 0, Q1 = Q2 = 0 */
	memset(m.q1, 0, sizeof(m.q1));
	memset(m.q2, 0, sizeof(m.q2));
	CHECK_SGX(sgx_sigstruct_check(&m, NULL), SGX_INVALID_SIGNATURE);
	/* Q1 one too small leaves r1 = s^2 - Q1 n in [n, 2n), and a Q2 made to
	 * match that r1 still gives r2 = s^3 mod n: only the range of r1 can
	 * tell this Q1 is wrong.  That Q2 is below 2s, so it fits in 384 bytes
	 * for about half of the signatures. */
	int matched = 0;

	for (size_t i = 0; i < 16; i++) {
		BN_CTX *bn = BN_CTX_new();
		BIGNUM *s, *n, *q1, *r1 = BN_new(), *t = BN_new(), *q2 = BN_new();

		check_vector(key, &v[i], i, &sig);
		s = BN_lebin2bn(sig.signature, sizeof(sig.signature), NULL);
		n = BN_lebin2bn(sig.modulus, sizeof(sig.modulus), NULL);
		q1 = BN_lebin2bn(sig.q1, sizeof(sig.q1), NULL);
		CHECK(bn && s && n && q1 && r1 && t && q2);
		CHECK(BN_sub_word(q1, 1));
		CHECK(BN_sqr(r1, s, bn) && BN_mul(t, q1, n, bn) && BN_sub(r1, r1, t));
		CHECK_GE(BN_cmp(r1, n), 0);
		CHECK(BN_mul(t, s, r1, bn) && BN_div(q2, NULL, t, n, bn));
		m = sig;
		CHECK_EQ(BN_bn2lebinpad(q1, m.q1, sizeof(m.q1)), sizeof(m.q1));
		CHECK_SGX(sgx_sigstruct_check(&m, NULL), SGX_INVALID_SIGNATURE);
		if (BN_num_bytes(q2) <= (int)sizeof(m.q2)) {
			CHECK_EQ(BN_bn2lebinpad(q2, m.q2, sizeof(m.q2)), sizeof(m.q2));
			CHECK_SGX(sgx_sigstruct_check(&m, NULL), SGX_INVALID_SIGNATURE);
			matched++;
		}
		BN_free(q2);
		BN_free(t);
		BN_free(r1);
		BN_free(q1);
		BN_free(n);
		BN_free(s);
		BN_CTX_free(bn);
	}
	CHECK_GT(matched, 0);
	free(v);
	EVP_PKEY_free(key);
	no_leaks();
}

struct check_job {
	const struct sgx_sigstruct *sig;
	int failures;
};

static void *check_thread(void *arg)
{
	struct check_job *job = arg;
	struct sgx_sigstruct m;

	for (int i = 0; i < 200; i++) {
		m = *job->sig;
		if (sgx_sigstruct_check(&m, NULL) != SGX_SUCCESS)
			job->failures++;
		m.signature[i] ^= 0x80;
		if (sgx_sigstruct_check(&m, NULL) != SGX_INVALID_SIGNATURE)
			job->failures++;
	}
	return NULL;
}

TEST(sigcheck_threads)
{
	EVP_PKEY *key = oracle_key();
	struct sgx_sigstruct sigs[4];
	struct check_job jobs[4];
	pthread_t t[4];
	struct vec *v;

	load_vectors(&v);
	for (int i = 0; i < 4; i++) {
		check_vector(key, &v[i], i, &sigs[i]);
		jobs[i] = (struct check_job){ .sig = &sigs[i] };
		CHECK_EQ(pthread_create(&t[i], NULL, check_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(pthread_join(t[i], NULL), 0);
		CHECK_EQ(jobs[i].failures, 0);
	}
	free(v);
	EVP_PKEY_free(key);
	no_leaks();
}

/* --- SGXS ---------------------------------------------------------------- */

/* A page as EADD leaves it (SDM, EADD, "For TCS pages, force EPCM.rwx bits
 * to 0"): a TCS loses R, W and X, and STATE, FLAGS.DBGOPTIN, CSSA and AEP
 * of its contents.  Written here from the SDM, apart from src/sign. */
static bool is_tcs(uint64_t flags)
{
	return (flags & SGX_SECINFO_PAGE_TYPE_MASK) == SGX_SECINFO_TCS;
}

static uint64_t flags_as_added(uint64_t flags)
{
	return is_tcs(flags) ? flags & ~SGX_SECINFO_PERMISSION_MASK : flags;
}

static void page_as_added(const struct sgx_layout_page *p, uint8_t out[SGX_PAGE_SIZE])
{
	struct sgx_tcs *tcs = (struct sgx_tcs *)out;

	if (p->data)
		memcpy(out, p->data, SGX_PAGE_SIZE);
	else
		memset(out, 0, SGX_PAGE_SIZE);
	if (!is_tcs(p->secinfo_flags))
		return;
	tcs->state = 0;
	tcs->flags &= ~SGX_TCS_DBGOPTIN;
	tcs->ssa_index = 0;
	tcs->exit_addr = 0;
}

/* b is a's build as a stream gives it back: the pages as EADD left them. */
static void check_same_pages(const struct sgx_layout *a, const struct sgx_layout *b)
{
	static uint8_t pa[SGX_PAGE_SIZE], pb[SGX_PAGE_SIZE];

	CHECK_EQ(a->size, b->size);
	CHECK_EQ(a->ssa_frame_size, b->ssa_frame_size);
	CHECK_EQ(a->nr_pages, b->nr_pages);
	for (size_t i = 0; i < a->nr_pages; i++) {
		const struct sgx_layout_page *p = &a->pages[i], *q = &b->pages[i];

		CHECK_EQ(p->offset, q->offset);
		CHECK_EQ(flags_as_added(p->secinfo_flags), q->secinfo_flags);
		CHECK_EQ(sgx_layout_page_chunks(p), sgx_layout_page_chunks(q));
		page_as_added(p, pa);
		page_as_added(q, pb);
		CHECK_MSG(!memcmp(pa, pb, SGX_PAGE_SIZE), "page %zu at %#llx: contents differ", i,
			  (unsigned long long)p->offset);
	}
}

TEST(sgxs_round_trip)
{
	char err[256];
	struct vec *v;
	size_t n = load_vectors(&v);

	for (size_t i = 0; i < n; i++) {
		struct sgx_layout l, back;
		uint8_t mr[32], *buf;
		size_t len;

		vec_layout(&v[i], true, &l);
		CHECK_EQ(sgx_layout_to_sgxs(&l, &buf, &len), 0);
		err[0] = 0;
		CHECK_MSG(sgx_load_sgxs(buf, len, &back, err, sizeof(err)) == 0, "build %zu: %s", i, err);
		check_same_pages(&l, &back);
		CHECK_EQ(sgx_layout_measure(&back, mr), 0);
		CHECK_HASH(mr, v[i].mrenclave);
		free(buf);
		sgx_layout_free(&back);
		sgx_layout_free(&l);
	}
	free(v);
	no_leaks();
}

/* The oracle's own streams: they load, measure to its MRENCLAVE, and are
 * what sgx_layout_to_sgxs writes for the same build. */
TEST(sgxs_oracle_streams)
{
	char err[256], path[512];
	struct vec *v;

	load_vectors(&v);
	for (size_t i = 0; i < 2; i++) {
		struct sgx_layout l, mine;
		uint8_t mr[32], *file, *buf;
		size_t flen, len;

		snprintf(path, sizeof(path), VEC_DIR "/vec_%03zu.sgxs", i);
		file = read_all(path, &flen);
		err[0] = 0;
		CHECK_MSG(sgx_load_sgxs(file, flen, &l, err, sizeof(err)) == 0, "%s: %s", path, err);
		CHECK_EQ(sgx_layout_measure(&l, mr), 0);
		CHECK_HASH(mr, v[i].mrenclave);
		sgx_layout_free(&l);

		CHECK_MSG(sgx_load_image(path, NULL, &l, err, sizeof(err)) == 0, "%s: %s", path, err);
		CHECK_EQ(sgx_layout_measure(&l, mr), 0);
		CHECK_HASH(mr, v[i].mrenclave);
		sgx_layout_free(&l);

		vec_layout(&v[i], false, &mine);
		CHECK_EQ(sgx_layout_to_sgxs(&mine, &buf, &len), 0);
		CHECK_EQ(len, flen);
		CHECK_MEM(buf, file, len);
		free(buf);
		sgx_layout_free(&mine);
		free(file);
	}
	free(v);
	no_leaks();
}

/* Appends a record to a stream under construction. */
struct stream {
	uint8_t buf[1 << 16];
	size_t len;
	/* The bytes MRENCLAVE hashes: every record but UNMEASRD ones. */
	uint8_t measured[1 << 16];
	size_t mlen;
};

static void put_rec(struct stream *s, uint64_t tag, uint64_t a, uint64_t b, const uint8_t *data)
{
	uint8_t rec[64] = { 0 };

	memcpy(rec, &tag, 8);
	if (tag == SGX_MEAS_TAG_ECREATE) {
		uint32_t ssa = a;

		memcpy(rec + 8, &ssa, 4);
		memcpy(rec + 12, &b, 8);
	} else {
		memcpy(rec + 8, &a, 8);
		if (tag == SGX_MEAS_TAG_EADD)
			memcpy(rec + 16, &b, 8);
	}
	CHECK_LE(s->len + 64 + (data ? 256 : 0), sizeof(s->buf));
	memcpy(s->buf + s->len, rec, 64);
	s->len += 64;
	if (data) {
		memcpy(s->buf + s->len, data, 256);
		s->len += 256;
	}
	if (tag != SGXS_TAG_UNMEASRD) {
		memcpy(s->measured + s->mlen, rec, 64);
		s->mlen += 64;
		if (data) {
			memcpy(s->measured + s->mlen, data, 256);
			s->mlen += 256;
		}
	}
}

/* Pages measured in part, with UNMEASRD chunks anywhere among the measured
 * ones: MRENCLAVE is SHA-256 of the measured records, and a page keeps the
 * chunks it was given (zero elsewhere) through a round trip. */
TEST(sgxs_partial_pages)
{
	uint64_t rng = harness_seed(0xC0FFEE);
	int rounds = harness_sanitized() ? 50 : 300;

	for (int r = 0; r < rounds; r++) {
		static struct stream s;
		uint8_t want_data[8][SGX_PAGE_SIZE], mr[32], want[32], *buf;
		uint16_t want_mask[8];
		struct sgx_layout l, back;
		size_t npages = 1 + harness_rand(&rng) % 8, len;
		char err[256] = "";

		memset(&s, 0, sizeof(s));
		memset(want_data, 0, sizeof(want_data));
		put_rec(&s, SGX_MEAS_TAG_ECREATE, 1 + harness_rand(&rng) % 4, 1ULL << 20, NULL);
		for (size_t p = 0; p < npages; p++) {
			uint64_t off = p * 2 * SGX_PAGE_SIZE;
			int order[16], nr = 0;

			want_mask[p] = harness_rand(&rng);
			put_rec(&s, SGX_MEAS_TAG_EADD, off, SGX_SECINFO_REG | SGX_SECINFO_R, NULL);
			/* Measured chunks ascend; unmeasured ones go anywhere. */
			for (int c = 0; c < 16; c++)
				if (want_mask[p] & (1U << c))
					order[nr++] = c;
			for (int c = 15; c >= 0; c--) {
				if ((want_mask[p] & (1U << c)) || harness_rand(&rng) % 2)
					continue;
				int at = harness_rand(&rng) % (nr + 1);

				memmove(order + at + 1, order + at, (nr - at) * sizeof(int));
				order[at] = c + 16; /* unmeasured */
				nr++;
			}
			for (int k = 0; k < nr; k++) {
				int c = order[k] % 16;
				uint8_t *chunk = want_data[p] + c * 256;

				for (int b = 0; b < 256; b++)
					chunk[b] = harness_rand(&rng);
				put_rec(&s, order[k] < 16 ? SGX_MEAS_TAG_EEXTEND : SGXS_TAG_UNMEASRD,
					off + c * 256, 0, chunk);
			}
		}
		CHECK_MSG(sgx_load_sgxs(s.buf, s.len, &l, err, sizeof(err)) == 0, "round %d: %s", r, err);
		CHECK_EQ(l.nr_pages, npages);
		for (size_t p = 0; p < npages; p++) {
			static const uint8_t zero[SGX_PAGE_SIZE];

			CHECK_EQ(sgx_layout_page_chunks(&l.pages[p]), want_mask[p]);
			CHECK_EQ(l.pages[p].measure, want_mask[p] == 0xFFFF);
			CHECK(!memcmp(l.pages[p].data ? l.pages[p].data : zero, want_data[p], SGX_PAGE_SIZE));
		}
		CHECK_EQ(sgx_layout_measure(&l, mr), 0);
		sha256(s.measured, s.mlen, want);
		CHECK_HASH(mr, want);
		/* Written back (UNMEASRD records now in chunk order), same layout. */
		CHECK_EQ(sgx_layout_to_sgxs(&l, &buf, &len), 0);
		CHECK_MSG(sgx_load_sgxs(buf, len, &back, err, sizeof(err)) == 0, "%s", err);
		check_same_pages(&l, &back);
		CHECK_EQ(sgx_layout_measure(&back, mr), 0);
		CHECK_HASH(mr, want);
		free(buf);
		sgx_layout_free(&back);
		sgx_layout_free(&l);
	}
	no_leaks();
}

/* Every prefix of a stream: a cut between records is a shorter valid stream
 * (it measures to SHA-256 of the prefix); a cut inside a record is refused. */
TEST(sgxs_truncated_everywhere)
{
	size_t len, boundaries = 0, inside = 0;
	uint8_t *file = read_all(VEC_DIR "/vec_000.sgxs", &len);
	bool *boundary = calloc(len + 1, 1);

	CHECK(boundary);
	for (size_t pos = 0; pos < len;) {
		uint64_t tag;

		boundary[pos] = true;
		memcpy(&tag, file + pos, 8);
		pos += 64 + (tag == SGX_MEAS_TAG_EEXTEND ? 256 : 0);
	}
	for (size_t cut = 0; cut < len; cut++) {
		struct sgx_layout l;
		char err[256] = "";
		int ret = sgx_load_sgxs(file, cut, &l, err, sizeof(err));

		if (boundary[cut] && cut > 0) {
			uint8_t mr[32], want[32];

			CHECK_MSG(ret == 0, "cut at record boundary %zu: %d %s", cut, ret, err);
			CHECK_EQ(sgx_layout_measure(&l, mr), 0);
			sha256(file, cut, want);
			CHECK_HASH(mr, want);
			sgx_layout_free(&l);
			boundaries++;
		} else {
			CHECK_MSG(ret == -EINVAL, "cut at %zu: %d, want -EINVAL", cut, ret);
			CHECK_MSG(strstr(err, cut ? "truncated" : "empty"), "cut at %zu: message \"%s\"", cut,
				  err);
			CHECK_EQ(l.nr_pages, 0);
			CHECK(l.pages == NULL && l.storage == NULL);
			inside++;
		}
	}
	printf("  %zu cuts between records accepted, %zu cuts inside records refused\n", boundaries,
	       inside);
	CHECK_GT(boundaries, 10);
	free(boundary);
	free(file);
	no_leaks();
}

static void expect_bad_stream(const struct stream *s, const char *what)
{
	struct sgx_layout l;
	char err[256] = "";
	int ret = sgx_load_sgxs(s->buf, s->len, &l, err, sizeof(err));

	CHECK_MSG(ret == -EINVAL, "want -EINVAL (%s), got %d", what, ret);
	CHECK_MSG(strstr(err, what), "message \"%s\" does not say \"%s\"", err, what);
	CHECK(l.pages == NULL && l.storage == NULL && l.nr_pages == 0);
}

TEST(sgxs_malformed)
{
	static struct stream s;
	static const uint8_t d[256];
	const uint64_t R = SGX_SECINFO_REG | SGX_SECINFO_R, SZ = 1 << 16;

#define START() (memset(&s, 0, sizeof(s)), put_rec(&s, SGX_MEAS_TAG_ECREATE, 1, SZ, NULL))
	START();
	put_rec(&s, 0x4141414141414141ULL, 0, 0, NULL);
	expect_bad_stream(&s, "unknown record tag");

	memset(&s, 0, sizeof(s));
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	expect_bad_stream(&s, "not ECREATE");

	START();
	put_rec(&s, SGX_MEAS_TAG_ECREATE, 1, SZ, NULL);
	expect_bad_stream(&s, "second ECREATE");

	START();
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0, 0, d);
	expect_bad_stream(&s, "in no page added");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EADD, 0x1000, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0x100, 0, d);
	expect_bad_stream(&s, "not in the page last added");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	put_rec(&s, SGXS_TAG_UNMEASRD, 0x80, 0, d);
	expect_bad_stream(&s, "not 256-byte aligned");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0x100, 0, d);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0x100, 0, d);
	expect_bad_stream(&s, "given twice");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0x200, 0, d);
	put_rec(&s, SGXS_TAG_UNMEASRD, 0x200, 0, d);
	expect_bad_stream(&s, "given twice");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0x200, 0, d);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0x100, 0, d);
	expect_bad_stream(&s, "after a higher chunk");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0x3000, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EADD, 0x3000, R, NULL);
	expect_bad_stream(&s, "added twice");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0x3001, R, NULL);
	expect_bad_stream(&s, "not page aligned");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, SZ, R, NULL);
	expect_bad_stream(&s, "outside the enclave");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, SGX_SECINFO_VA, NULL);
	expect_bad_stream(&s, "neither TCS nor REG");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, SGX_SECINFO_REG | SGX_SECINFO_W, NULL);
	expect_bad_stream(&s, "writable but not readable");

	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R | SGX_SECINFO_PENDING, NULL);
	expect_bad_stream(&s, "reserved bits");

	memset(&s, 0, sizeof(s));
	put_rec(&s, SGX_MEAS_TAG_ECREATE, 1, 3 * SGX_PAGE_SIZE, NULL);
	expect_bad_stream(&s, "not a power of two");

	memset(&s, 0, sizeof(s));
	put_rec(&s, SGX_MEAS_TAG_ECREATE, 0, SZ, NULL);
	expect_bad_stream(&s, "SSA frame size");

	/* Reserved bytes of each record kind. */
	START();
	s.buf[63] = 1;
	expect_bad_stream(&s, "reserved bytes");
	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	s.buf[64 + 24] = 1;
	expect_bad_stream(&s, "reserved bytes");
	START();
	put_rec(&s, SGX_MEAS_TAG_EADD, 0, R, NULL);
	put_rec(&s, SGX_MEAS_TAG_EEXTEND, 0, 0, d);
	s.buf[128 + 16] = 1;
	expect_bad_stream(&s, "reserved bytes");

	/* Not even a stream. */
	{
		struct sgx_layout l;
		char err[128] = "";

		CHECK_EQ(sgx_load_sgxs(NULL, 0, &l, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "empty"));
		/* A NULL err is fine. */
		CHECK_EQ(sgx_load_sgxs((const uint8_t *)"x", 1, &l, NULL, 0), -EINVAL);
	}
#undef START
	no_leaks();
}

/* --- layouts ------------------------------------------------------------- */

static int validate_msg(const struct sgx_layout *l, char *err, size_t errlen)
{
	uint8_t mr[32];
	int ret;

	err[0] = 0;
	ret = sgx_layout_validate(l, err, errlen);
	/* What validate refuses, measure and the SGXS writer refuse too. */
	CHECK_EQ(sgx_layout_measure(l, mr), ret);
	if (ret) {
		uint8_t *buf;
		size_t len;

		CHECK_EQ(sgx_layout_to_sgxs(l, &buf, &len), ret);
	}
	return ret;
}

TEST(layout_validate)
{
	struct sgx_layout_page pages[3] = {
		{ .offset = 0, .secinfo_flags = SGX_SECINFO_TCS, .measure = true },
		{ .offset = 0x1000, .secinfo_flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X },
		{ .offset = 0x2000, .secinfo_flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W },
	};
	struct sgx_layout l = { .size = 0x4000, .ssa_frame_size = 1, .nr_pages = 3, .pages = pages };
	char err[256];

	CHECK_EQ(validate_msg(&l, err, sizeof(err)), 0);
	l.size = 0x3000;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "power of two"));
	l.size = 0x1000;
	l.nr_pages = 0;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	l.size = 0x2000;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), 0); /* no pages is buildable */
	l.nr_pages = 3;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "do not fit"));
	l.size = 0x4000;
	l.ssa_frame_size = 0;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	l.ssa_frame_size = 1;
	pages[2].offset = 0x1000;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "added twice"));
	pages[2].offset = 0x4000;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "outside"));
	pages[2].offset = 0x2010;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not page aligned"));
	pages[2].offset = 0x2000;
	/* EADD clears a TCS's permissions rather than refusing them, and
	 * measures what it cleared: the same MRENCLAVE as without them. */
	{
		uint8_t a[32], b[32];

		pages[0].secinfo_flags = SGX_SECINFO_TCS;
		CHECK_EQ(sgx_layout_measure(&l, a), 0);
		pages[0].secinfo_flags = SGX_SECINFO_TCS | SGX_SECINFO_W;
		CHECK_EQ(validate_msg(&l, err, sizeof(err)), 0);
		pages[0].secinfo_flags = SGX_SECINFO_TCS | SGX_SECINFO_X;
		CHECK_EQ(validate_msg(&l, err, sizeof(err)), 0);
		CHECK_EQ(sgx_layout_measure(&l, b), 0);
		CHECK_MEM(a, b, 32);
	}
	pages[0].secinfo_flags = SGX_SECINFO_TRIM;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	pages[0].secinfo_flags = SGX_SECINFO_REG | (1ULL << 40);
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	pages[0].secinfo_flags = SGX_SECINFO_TCS;
	l.pages = NULL;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), -EINVAL);
	l.pages = pages;
	CHECK_EQ(validate_msg(&l, err, sizeof(err)), 0);
	/* A chunk mask on a page with measure set changes nothing. */
	{
		uint8_t a[32], b[32];

		CHECK_EQ(sgx_layout_measure(&l, a), 0);
		pages[0].chunk_mask = 0x00F0;
		CHECK_EQ(sgx_layout_measure(&l, b), 0);
		CHECK_MEM(a, b, 32);
		pages[0].measure = false;
		CHECK_EQ(sgx_layout_measure(&l, b), 0);
		CHECK(memcmp(a, b, 32) != 0);
	}
	no_leaks();
}

/* --- image files --------------------------------------------------------- */

TEST(load_image_dispatch)
{
	char dir[] = "/tmp/sgxemu-identity-XXXXXX", path[512], err[256] = "";
	struct sgx_layout l, direct;
	uint8_t a[32], b[32], *elf;
	size_t len;
	int ret, ret2;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/garbage", dir);
	write_all(path, "not an enclave at all", 21);
	CHECK_EQ(sgx_load_image(path, NULL, &l, err, sizeof(err)), -EINVAL);
	CHECK_MSG(strstr(err, "not an ELF enclave or SGXS stream"), "message \"%s\"", err);
	unlink(path);
	write_all(path, "", 0);
	CHECK_EQ(sgx_load_image(path, NULL, &l, err, sizeof(err)), -EINVAL);
	unlink(path);
	CHECK_EQ(sgx_load_image(path, NULL, &l, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, path));
	CHECK_EQ(sgx_load_image(dir, NULL, &l, err, sizeof(err)), -EISDIR);
	CHECK_MSG(strstr(err, "Is a directory"), "message \"%s\"", err);
	CHECK_EQ(sgx_load_image("/dev/null", NULL, &l, err, sizeof(err)), -EINVAL);
	CHECK_MSG(strstr(err, "not a regular file"), "message \"%s\"", err);
	CHECK(rmdir(dir) == 0);

	/* An ELF file goes to the ELF loader: same answer as calling it. */
	elf = read_all(SGXEMU_SAMPLE_ENCLAVE, &len);
	ret = sgx_load_image(SGXEMU_SAMPLE_ENCLAVE, NULL, &l, err, sizeof(err));
	ret2 = sgx_load_elf(elf, len, NULL, &direct, err, sizeof(err));
	CHECK_EQ(ret, ret2);
	printf("  sample enclave: sgx_load_image %d, sgx_load_elf %d\n", ret, ret2);
	if (ret == 0) {
		CHECK_EQ(sgx_layout_measure(&l, a), 0);
		CHECK_EQ(sgx_layout_measure(&direct, b), 0);
		CHECK_MEM(a, b, 32);
		sgx_layout_free(&l);
		sgx_layout_free(&direct);
	}
	free(elf);
	no_leaks();
}

TEST(read_file_bounds_and_kinds)
{
	char dir[] = "/tmp/sgxemu-identity-XXXXXX", path[512], err[256] = "";
	uint8_t *buf = NULL;
	size_t len = 1;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	write_all(path, "0123456789", 10);
	CHECK_EQ(sgx_read_file(path, 10, &buf, &len, err, sizeof(err)), 0);
	CHECK_EQ(len, 10);
	CHECK_MEM(buf, "0123456789", 10);
	free(buf);
	buf = NULL;
	CHECK_EQ(sgx_read_file(path, 9, &buf, &len, err, sizeof(err)), -EFBIG);
	CHECK_MSG(strstr(err, "10 bytes, more than the 9 allowed"), "message \"%s\"", err);
	CHECK(buf == NULL);
	write_all(path, "", 0);
	CHECK_EQ(sgx_read_file(path, 0, &buf, &len, NULL, 0), 0);
	CHECK(buf != NULL);
	CHECK_EQ(len, 0);
	free(buf);
	buf = NULL;
	CHECK_EQ(sgx_read_file(dir, 1 << 20, &buf, &len, err, sizeof(err)), -EISDIR);
	CHECK_EQ(sgx_read_file("/dev/null", 1 << 20, &buf, &len, err, sizeof(err)), -EINVAL);
	CHECK_MSG(strstr(err, "/dev/null: not a regular file"), "message \"%s\"", err);
	CHECK(buf == NULL);
	/* A FIFO with no writer is refused, not waited on. */
	unlink(path);
	CHECK_EQ(mkfifo(path, 0600), 0);
	CHECK_EQ(sgx_read_file(path, 1 << 20, &buf, &len, err, sizeof(err)), -EINVAL);
	CHECK_MSG(strstr(err, "not a regular file"), "message \"%s\"", err);
	unlink(path);
	CHECK_EQ(sgx_read_file(path, 1 << 20, &buf, &len, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, path));
	CHECK(rmdir(dir) == 0);
	no_leaks();
}

/* --- keys ---------------------------------------------------------------- */

static EVP_PKEY *rsa_key(unsigned int bits, unsigned int e)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *bn = BN_new();

	CHECK(ctx && bn && BN_set_word(bn, e));
	CHECK(EVP_PKEY_keygen_init(ctx) > 0);
	CHECK(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) > 0);
	CHECK(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn) > 0);
	CHECK(EVP_PKEY_keygen(ctx, &key) > 0);
	BN_free(bn);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void write_pem(const char *path, EVP_PKEY *key, const char *pass)
{
	FILE *f = fopen(path, "w");

	CHECK(f);
	CHECK(PEM_write_PrivateKey(f, key, pass ? EVP_aes_128_cbc() : NULL, (unsigned char *)pass,
				   pass ? (int)strlen(pass) : 0, NULL, NULL));
	CHECK_EQ(fclose(f), 0);
}

static void expect_bad_key(const char *path, const char *what)
{
	char err[256] = "";
	EVP_PKEY *key = (EVP_PKEY *)1;
	int ret = sgx_key_load(path, &key, err, sizeof(err));

	CHECK_MSG(ret == -EINVAL, "%s: got %d, want -EINVAL", path, ret);
	CHECK(key == NULL);
	CHECK_MSG(strstr(err, what), "message \"%s\" does not say \"%s\"", err, what);
	printf("  refused: %s\n", err);
}

TEST(keys_refused)
{
	static const struct sgx_sigstruct zero_sig;
	char dir[] = "/tmp/sgxemu-keys-XXXXXX", path[512], err[256] = "";
	struct sgx_sign_params params = { 0 };
	struct sgx_sigstruct sig;
	uint8_t mr[32] = { 0 };
	EVP_PKEY *key;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.pem", dir);

	key = rsa_key(2048, 3);
	write_pem(path, key, NULL);
	expect_bad_key(path, "2048 bits");
	/* A refused signature leaves a zeroed SIGSTRUCT, not stale bytes. */
	memset(&sig, 0xA5, sizeof(sig));
	CHECK_EQ(sgx_sigstruct_sign(key, &params, mr, &sig), -EINVAL);
	CHECK_MEM(&sig, &zero_sig, sizeof(sig));
	memset(mr, 0xA5, sizeof(mr));
	CHECK_EQ(sgx_key_mrsigner(key, mr), -EINVAL);
	CHECK_MEM(mr, zero_sig.modulus, sizeof(mr));
	CHECK_EQ(sgx_key_save(path, key), -EINVAL);
	EVP_PKEY_free(key);

	key = rsa_key(3072, 65537);
	write_pem(path, key, NULL);
	expect_bad_key(path, "exponent 65537");
	CHECK_EQ(sgx_sigstruct_sign(key, &params, mr, &sig), -EINVAL);
	EVP_PKEY_free(key);

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(key);
	write_pem(path, key, NULL);
	expect_bad_key(path, "not RSA");
	CHECK_EQ(sgx_sigstruct_sign(key, &params, mr, &sig), -EINVAL);
	EVP_PKEY_free(key);

	/* An encrypted key is refused without asking for a pass phrase. */
	key = oracle_key();
	write_pem(path, key, "secret");
	expect_bad_key(path, "no unencrypted PEM private key");
	EVP_PKEY_free(key);

	write_all(path, "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n", 62);
	expect_bad_key(path, "no unencrypted PEM private key");
	write_all(path, "", 0);
	expect_bad_key(path, "no unencrypted PEM private key");

	unlink(path);
	CHECK_EQ(sgx_key_load(path, &key, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, path));
	/* A directory or a device is named as such; an endless one is not
	 * read until it ends. */
	CHECK_EQ(sgx_key_load(dir, &key, err, sizeof(err)), -EISDIR);
	CHECK_MSG(strstr(err, "Is a directory"), "message \"%s\"", err);
	CHECK_EQ(sgx_key_load("/dev/zero", &key, err, sizeof(err)), -EINVAL);
	CHECK_MSG(strstr(err, "not a regular file"), "message \"%s\"", err);
	CHECK(key == NULL);
	CHECK(rmdir(dir) == 0);
	no_leaks();
}

TEST(keys_generate_save_load)
{
	char dir[] = "/tmp/sgxemu-keys-XXXXXX", path[512], err[256] = "";
	struct sgx_sign_params params = { .attributes = SGX_ATTR_MODE64BIT };
	EVP_PKEY *key, *back;
	uint8_t mr[32], ms1[32], ms2[32];
	struct sgx_sigstruct s1, s2;
	EVP_PKEY *back2 = NULL;
	struct stat st;

	for (int i = 0; i < 32; i++)
		mr[i] = i;
	CHECK_EQ(sgx_key_generate(&key), 0);
	CHECK_EQ(EVP_PKEY_get_bits(key), 3072);
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/signer.pem", dir);
	CHECK_EQ(sgx_key_save(path, key), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_MSG(sgx_key_load(path, &back, err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ(sgx_sigstruct_sign(key, &params, mr, &s1), 0);
	CHECK_EQ(sgx_sigstruct_sign(back, &params, mr, &s2), 0);
	CHECK_MEM(&s1, &s2, sizeof(s1)); /* PKCS#1 v1.5 is deterministic */
	CHECK_SGX(sgx_sigstruct_check(&s1, ms1), SGX_SUCCESS);
	sgx_sigstruct_mrsigner(&s2, ms2);
	CHECK_MEM(ms1, ms2, 32);
	memset(ms2, 0xA5, sizeof(ms2));
	CHECK_EQ(sgx_key_mrsigner(back, ms2), 0);
	CHECK_MEM(ms1, ms2, 32);
	CHECK_EQ(s1.exponent, 3);
	CHECK_MEM(s1.body.mrenclave, mr, 32);
	CHECK_EQ(sgx_key_save(dir, key), -EEXIST);
	/* A key is never saved over an existing file, whoever made it. */
	CHECK_EQ(chmod(path, 0644), 0);
	CHECK_EQ(sgx_key_save(path, key), -EEXIST);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0644);
	CHECK_MSG(sgx_key_load(path, &back2, err, sizeof(err)) == 0, "%s", err);
	CHECK_EQ(EVP_PKEY_eq(back2, key), 1);
	EVP_PKEY_free(back2);
	unlink(path);
	CHECK(rmdir(dir) == 0);
	EVP_PKEY_free(back);
	EVP_PKEY_free(key);
	no_leaks();
}

/* --- the oracle, live ---------------------------------------------------- */

static bool have_live_oracle(void)
{
	if (access(ORACLE_PATH, R_OK) != 0) {
		printf("  note: %s not found; live oracle case skipped\n", ORACLE_PATH);
		return false;
	}
	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		printf("  note: no python3; live oracle case skipped\n");
		return false;
	}
	return true;
}

/* A fresh random build, as a vector (pages on random slots). */
static void random_vec(uint64_t *rng, struct vec *v)
{
	memset(v, 0, sizeof(*v));
	v->seed = harness_rand(rng);
	v->size = 1ULL << (13 + harness_rand(rng) % 24);
	v->ssa = 1 + harness_rand(rng) % 5;
	v->params.vendor = harness_rand(rng) % 2 ? SGX_SIGSTRUCT_VENDOR_INTEL : 0;
	v->params.date = 0x20000101 + (harness_rand(rng) % 9) * 0x10000;
	v->params.swdefined = harness_rand(rng);
	v->params.miscselect = harness_rand(rng);
	v->params.misc_mask = harness_rand(rng);
	v->params.attributes = harness_rand(rng);
	v->params.xfrm = harness_rand(rng);
	v->params.attributes_mask = harness_rand(rng);
	v->params.xfrm_mask = harness_rand(rng);
	v->params.isvprodid = harness_rand(rng);
	v->params.isvsvn = harness_rand(rng);
	v->nr_pages = 1 + harness_rand(rng) % (v->size / SGX_PAGE_SIZE < 12 ? v->size / SGX_PAGE_SIZE : 12);
	for (size_t j = 0; j < v->nr_pages; j++) {
		static const uint64_t perms[] = { 0, 1, 3, 4, 5, 7 };
		struct vec_page *p = &v->pages[j];
		bool dup;

		do {
			p->offset = (harness_rand(rng) % (v->size / SGX_PAGE_SIZE)) * SGX_PAGE_SIZE;
			dup = false;
			for (size_t k = 0; k < j; k++)
				dup |= v->pages[k].offset == p->offset;
		} while (dup);
		/* A TCS with any of R, W and X: EADD clears them. */
		p->flags = harness_rand(rng) % 5 == 0 ? SGX_SECINFO_TCS | harness_rand(rng) % 8
						       : SGX_SECINFO_REG | perms[harness_rand(rng) % 6];
		p->kind = harness_rand(rng) % 3;
	}
}

/* Writes LAYOUT.json and its blob, as sgxref.py takes them, for a layout
 * and the SIGSTRUCT fields to sign it with. */
/* "name": "<hex>", as sgxref.py's layout takes the SIGSTRUCT's KSS fields. */
static void fprintf_hex_field(FILE *f, const char *name, const uint8_t *p, size_t n)
{
	fprintf(f, "\"%s\": \"", name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fprintf(f, "\", ");
}

static void write_oracle_layout(const struct sgx_layout *l, const struct sgx_sign_params *p,
				const char *dir)
{
	static const uint8_t zero[SGX_PAGE_SIZE];
	char path[512];
	size_t src = 0;
	FILE *f, *blob;

	snprintf(path, sizeof(path), "%s/blob.bin", dir);
	blob = fopen(path, "wb");
	snprintf(path, sizeof(path), "%s/layout.json", dir);
	f = fopen(path, "w");
	CHECK(f && blob);
	fprintf(f, "{\"size\": \"%#llx\", \"ssaframesize\": %u, \"vendor\": \"%#x\", \"date\": \"%#x\", "
		"\"swdefined\": \"%#x\", \"miscselect\": \"%#x\", \"misc_mask\": \"%#x\", "
		"\"attributes\": \"%#llx\", \"xfrm\": \"%#llx\", \"attributes_mask\": \"%#llx\", "
		"\"xfrm_mask\": \"%#llx\", \"isvprodid\": %u, \"isvsvn\": %u, \"blob\": \"blob.bin\", ",
		(unsigned long long)l->size, l->ssa_frame_size, p->vendor, p->date, p->swdefined,
		p->miscselect, p->misc_mask, (unsigned long long)p->attributes,
		(unsigned long long)p->xfrm, (unsigned long long)p->attributes_mask,
		(unsigned long long)p->xfrm_mask, p->isvprodid, p->isvsvn);
	fprintf_hex_field(f, "isvfamilyid", p->isvfamilyid, sizeof(p->isvfamilyid));
	fprintf_hex_field(f, "isvextprodid", p->isvextprodid, sizeof(p->isvextprodid));
	fprintf(f, "\"pages\": [");
	for (size_t j = 0; j < l->nr_pages; j++) {
		const struct sgx_layout_page *pg = &l->pages[j];

		CHECK_MSG(pg->measure || !pg->chunk_mask, "page %zu: the oracle measures whole pages", j);
		fprintf(f, "%s{\"offset\": %llu, \"flags\": \"%#llx\", \"measure\": %s", j ? ", " : "",
			(unsigned long long)pg->offset, (unsigned long long)pg->secinfo_flags,
			pg->measure ? "true" : "false");
		if (pg->measure) {
			CHECK_EQ(fwrite(pg->data ? pg->data : zero, 1, SGX_PAGE_SIZE, blob), SGX_PAGE_SIZE);
			fprintf(f, ", \"src\": %zu", src);
			src += SGX_PAGE_SIZE;
		}
		fputc('}', f);
	}
	fprintf(f, "]}\n");
	CHECK_EQ(fclose(f), 0);
	CHECK_EQ(fclose(blob), 0);
}

/*
 * A random ELF enclave image in the loader's contract (src/sign/elf.c):
 * 1-3 TCS pages from offset 0 in the first PT_LOAD, each full of PRNG
 * bytes (so STATE, FLAGS.DBGOPTIN, CSSA and AEP are set), then 1-4 PT_LOAD
 * segments with random permissions, gaps, partial last pages and bss,
 * then heap pages.  want receives, built here apart from the loader, the
 * layout the contract says the image stands for; its page data lives in
 * want->storage.
 */
#define ELF_MAX_SEGS 5
#define ELF_MAX_IMG (40 * SGX_PAGE_SIZE)

struct elf_build {
	uint8_t *img;
	size_t len;
	struct sgx_elf_options opts;
	struct sgx_sign_params params;
};

static void random_elf(uint64_t *rng, struct elf_build *b, struct sgx_layout *want)
{
	static const uint32_t pflags[] = { PF_R, PF_R | PF_W, PF_R | PF_X, PF_R | PF_W | PF_X, PF_X, 0 };
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	unsigned int nr_segs = 2 + harness_rand(rng) % (ELF_MAX_SEGS - 1);
	uint64_t vaddr = 0, end = 0, npages = 0;
	size_t off = SGX_PAGE_SIZE;
	uint8_t *data;

	memset(b, 0, sizeof(*b));
	memset(want, 0, sizeof(*want));
	b->img = calloc(1, ELF_MAX_IMG);
	want->pages = calloc(64, sizeof(*want->pages));
	data = calloc(64, SGX_PAGE_SIZE);
	CHECK(b->img && want->pages && data);
	want->storage = data;
	want->storage_size = 64 * SGX_PAGE_SIZE;

	eh = (Elf64_Ehdr *)b->img;
	ph = (Elf64_Phdr *)(b->img + sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phnum = nr_segs;

	for (unsigned int s = 0; s < nr_segs; s++) {
		uint64_t pages, memsz, filesz;
		uint32_t flags;

		if (s == 0) {
			pages = 1 + harness_rand(rng) % 3;
			memsz = filesz = pages * SGX_PAGE_SIZE;
			flags = PF_R | PF_W;
		} else {
			vaddr = end + (harness_rand(rng) % 3) * SGX_PAGE_SIZE; /* a gap, or none */
			memsz = 1 + harness_rand(rng) % (3 * SGX_PAGE_SIZE);
			filesz = harness_rand(rng) % 4 ? 1 + harness_rand(rng) % memsz : 0;
			pages = (memsz + SGX_PAGE_SIZE - 1) / SGX_PAGE_SIZE;
			flags = pflags[harness_rand(rng) % 6];
		}
		ph[s].p_type = PT_LOAD;
		ph[s].p_flags = flags;
		ph[s].p_offset = off;
		ph[s].p_vaddr = ph[s].p_paddr = vaddr;
		ph[s].p_filesz = filesz;
		ph[s].p_memsz = memsz;
		ph[s].p_align = SGX_PAGE_SIZE;
		CHECK_LE(off + filesz, ELF_MAX_IMG);
		for (uint64_t k = 0; k < filesz; k += 8) {
			uint64_t w = harness_rand(rng);

			memcpy(b->img + off + k, &w, filesz - k < 8 ? filesz - k : 8);
		}
		/* The pages the contract makes of it: file bytes, then zeros. */
		for (uint64_t pg = 0; pg < pages; pg++) {
			struct sgx_layout_page *p = &want->pages[npages];
			uint64_t rel = pg * SGX_PAGE_SIZE;
			uint8_t *d = data + npages * SGX_PAGE_SIZE;
			uint64_t perms = (flags & PF_R ? SGX_SECINFO_R : 0) |
					 (flags & PF_W ? SGX_SECINFO_W : 0) |
					 (flags & PF_X ? SGX_SECINFO_X : 0);

			if (rel < filesz)
				memcpy(d, b->img + off + rel,
				       filesz - rel < SGX_PAGE_SIZE ? filesz - rel : SGX_PAGE_SIZE);
			p->offset = vaddr + rel;
			p->secinfo_flags = s == 0 ? SGX_SECINFO_TCS : SGX_SECINFO_REG | perms;
			p->measure = true;
			p->data = d;
			npages++;
		}
		off = (off + filesz + SGX_PAGE_SIZE - 1) & ~(uint64_t)(SGX_PAGE_SIZE - 1);
		end = vaddr + pages * SGX_PAGE_SIZE;
		vaddr = end;
	}
	/* The TCS pages must be a whole number of pages of file bytes: they
	 * are (filesz == memsz), so the loop gave them PRNG contents. */
	b->opts.heap_pages = harness_rand(rng) % 6;
	b->opts.ssa_frame_size = 1 + harness_rand(rng) % 3;
	b->opts.attributes = SGX_ATTR_MODE64BIT | (harness_rand(rng) % 2 ? SGX_ATTR_DEBUG : 0);
	b->opts.xfrm = SGX_XFRM_LEGACY;
	for (uint64_t h = 0; h < b->opts.heap_pages; h++) {
		struct sgx_layout_page *p = &want->pages[npages++];

		p->offset = end + h * SGX_PAGE_SIZE;
		p->secinfo_flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	}
	end += b->opts.heap_pages * SGX_PAGE_SIZE;
	b->len = off;
	want->nr_pages = npages;
	want->size = 2 * SGX_PAGE_SIZE;
	while (want->size < end)
		want->size <<= 1;
	want->ssa_frame_size = b->opts.ssa_frame_size;
	want->attributes = b->opts.attributes;
	want->xfrm = b->opts.xfrm;

	b->params.vendor = harness_rand(rng) % 2 ? SGX_SIGSTRUCT_VENDOR_INTEL : 0;
	b->params.date = harness_rand(rng) % 4 ? 0x20261203 : 0;
	b->params.swdefined = harness_rand(rng);
	b->params.attributes = b->opts.attributes;
	b->params.xfrm = b->opts.xfrm;
	b->params.attributes_mask = harness_rand(rng);
	b->params.xfrm_mask = harness_rand(rng);
	b->params.isvprodid = harness_rand(rng);
	b->params.isvsvn = harness_rand(rng);
}

/* The directory of build b under root: l-NNN for layouts, e-NNN for ELF. */
static void build_dir(char *out, size_t n, const char *root, unsigned int b, unsigned int per_kind)
{
	int len = snprintf(out, n, "%s/%c-%03u", root, b < per_kind ? 'l' : 'e', b % per_kind);

	CHECK(len > 0 && (size_t)len < n);
}

/* Runs the oracle over builds 0..n-1 under root in one process. */
static void run_oracle_batch(const char *root, unsigned int n, unsigned int per_kind)
{
	char *cmd = NULL, dir[1024];
	size_t len = 0;
	FILE *f = open_memstream(&cmd, &len);

	CHECK(f);
	fprintf(f, "python3 '%s/tests/oracle_batch.py' '%s' '%s/oracle_key.json'", SGXEMU_SOURCE_DIR,
		ORACLE_PATH, VEC_DIR);
	for (unsigned int b = 0; b < n; b++) {
		build_dir(dir, sizeof(dir), root, b, per_kind);
		fprintf(f, " '%s'", dir);
	}
	CHECK_EQ(fclose(f), 0);
	CHECK_EQ(system(cmd), 0);
	free(cmd);
}

static void read_oracle_mrenclave(const char *dir, uint8_t mr[32])
{
	char path[1100], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/mrenclave.txt", dir);
	f = fopen(path, "r");
	CHECK_MSG(f, "%s: %s", path, strerror(errno));
	CHECK(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	hex_to_bytes(line, mr, 32);
}

static void remove_build_dir(const char *dir)
{
	static const char *const files[] = { "layout.json", "blob.bin", "mrenclave.txt",
					     "sig.bin", "stream.sgxs", "sign.request" };
	char path[1100];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	CHECK_MSG(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

/*
 * Fresh random builds against the live oracle, in one Python process:
 * ORACLE_BUILDS layouts (TCS pages with any of R, W and X, and contents
 * with STATE, DBGOPTIN, CSSA and AEP set) and as many ELF images, each
 * compared byte for byte: MRENCLAVE and the SGXS stream (ours written from
 * the layout, and the oracle's loaded back).  The first ORACLE_SIGNED of
 * each kind are signed by the oracle too and the whole SIGSTRUCT compared
 * (the committed vectors compare 256 more).
 */
#define ORACLE_BUILDS 200
#define ORACLE_SIGNED 10

TEST(oracle_live)
{
	uint64_t seed = harness_seed((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	uint64_t rng = seed;
	char root[] = "/tmp/sgxemu-oracle-XXXXXX", dir[1024];
	static struct vec vecs[ORACLE_BUILDS];
	static struct elf_build elfs[ORACLE_BUILDS];
	static struct sgx_layout want[ORACLE_BUILDS];
	unsigned int nr_tcs_perm = 0, nr_tcs = 0;
	EVP_PKEY *key;

	if (!have_live_oracle())
		return;
	key = oracle_key();
	CHECK(mkdtemp(root));
	printf("  seed %#llx (HARNESS_SEED to repeat)\n", (unsigned long long)seed);
	for (unsigned int b = 0; b < 2 * ORACLE_BUILDS; b++) {
		build_dir(dir, sizeof(dir), root, b, ORACLE_BUILDS);
		CHECK_MSG(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
		if (b % ORACLE_BUILDS < ORACLE_SIGNED) {
			char path[1100];

			snprintf(path, sizeof(path), "%s/sign.request", dir);
			write_all(path, "", 0);
		}
		if (b < ORACLE_BUILDS) {
			struct sgx_layout l;

			random_vec(&rng, &vecs[b]);
			for (size_t j = 0; j < vecs[b].nr_pages; j++) {
				if ((vecs[b].pages[j].flags & SGX_SECINFO_PAGE_TYPE_MASK) != SGX_SECINFO_TCS)
					continue;
				nr_tcs++;
				nr_tcs_perm += (vecs[b].pages[j].flags & SGX_SECINFO_PERMISSION_MASK) != 0;
			}
			vec_layout(&vecs[b], false, &l);
			write_oracle_layout(&l, &vecs[b].params, dir);
			sgx_layout_free(&l);
		} else {
			unsigned int e = b - ORACLE_BUILDS;

			random_elf(&rng, &elfs[e], &want[e]);
			write_oracle_layout(&want[e], &elfs[e].params, dir);
		}
	}
	printf("  %u TCS pages in the layouts, %u of them with R, W or X\n", nr_tcs, nr_tcs_perm);
	run_oracle_batch(root, 2 * ORACLE_BUILDS, ORACLE_BUILDS);

	for (unsigned int b = 0; b < 2 * ORACLE_BUILDS; b++) {
		struct sgx_layout l, back;
		struct sgx_sigstruct sig;
		const struct sgx_sign_params *params;
		uint8_t mr[32], want_mr[32], *osig, *ostream, *ours;
		char err[256] = "";
		char path[1100];
		size_t len, slen, olen;

		build_dir(dir, sizeof(dir), root, b, ORACLE_BUILDS);
		read_oracle_mrenclave(dir, want_mr);
		if (b < ORACLE_BUILDS) {
			vec_layout(&vecs[b], false, &l);
			params = &vecs[b].params;
		} else {
			unsigned int e = b - ORACLE_BUILDS;

			CHECK_MSG(sgx_load_elf(elfs[e].img, elfs[e].len, &elfs[e].opts, &l, err,
					       sizeof(err)) == 0,
				  "ELF build %u: %s", e, err);
			params = &elfs[e].params;
		}
		CHECK_EQ(sgx_layout_measure(&l, mr), 0);
		if (memcmp(mr, want_mr, 32))
			fprintf(stderr, "  build %s: MRENCLAVE differs\n", dir);
		CHECK_HASH(mr, want_mr);

		if (b % ORACLE_BUILDS < ORACLE_SIGNED) {
			snprintf(path, sizeof(path), "%s/sig.bin", dir);
			osig = read_all(path, &len);
			CHECK_EQ(len, sizeof(sig));
			CHECK_EQ(sgx_sigstruct_sign(key, params, mr, &sig), 0);
			check_same_sigstruct(&sig, osig);
			CHECK_SGX(sgx_sigstruct_check((const struct sgx_sigstruct *)osig, NULL),
				  SGX_SUCCESS);
			free(osig);
		}

		/* The oracle's stream loads and measures the same; for a layout
		 * whose unmeasured pages hold nothing, ours is the same bytes. */
		snprintf(path, sizeof(path), "%s/stream.sgxs", dir);
		ostream = read_all(path, &slen);
		CHECK_MSG(sgx_load_sgxs(ostream, slen, &back, err, sizeof(err)) == 0, "build %s: %s",
			  dir, err);
		CHECK_EQ(sgx_layout_measure(&back, mr), 0);
		CHECK_HASH(mr, want_mr);
		sgx_layout_free(&back);
		if (b < ORACLE_BUILDS) {
			CHECK_EQ(sgx_layout_to_sgxs(&l, &ours, &olen), 0);
			CHECK_EQ(olen, slen);
			CHECK_MSG(!memcmp(ours, ostream, slen), "build %s: SGXS streams differ", dir);
			free(ours);
		}
		free(ostream);
		sgx_layout_free(&l);
		remove_build_dir(dir);
	}
	for (unsigned int e = 0; e < ORACLE_BUILDS; e++) {
		free(elfs[e].img);
		sgx_layout_free(&want[e]);
	}
	printf("  %d layout builds and %d ELF images agree with the live oracle (%d of each signed)\n",
	       ORACLE_BUILDS, ORACLE_BUILDS, ORACLE_SIGNED);
	CHECK(rmdir(root) == 0);
	EVP_PKEY_free(key);
	no_leaks();
}

/* --- SIGSTRUCT's KSS fields against the oracle --------------------------- */

/*
 * ISVFAMILYID (bytes 912..927) and ISVEXTPRODID (1008..1023) are signed
 * identity, not reserved bytes: SIGSTRUCTs that carry them, signed here
 * and by the live oracle from the same layout, agree byte for byte, the
 * processor's check takes both, and the oracle's own check finds no
 * problem with ours.
 */
TEST(kss_sigstruct_fields_match_oracle)
{
	char dir[] = "/tmp/sgxemu-kss-XXXXXX", cmd[2048], path[512], line[256];
	bool live = have_live_oracle();
	EVP_PKEY *key = oracle_key();
	struct vec *v;
	size_t n = load_vectors(&v);

	CHECK_GE(n, 3);
	if (live)
		CHECK(mkdtemp(dir));
	for (size_t k = 0; k < 3; k++) {
		struct sgx_sign_params p = v[k].params;
		struct sgx_sigstruct sig;
		struct sgx_layout l;
		uint8_t mr[32];

		for (int i = 0; i < 16; i++) {
			p.isvfamilyid[i] = k == 2 ? 0 : (uint8_t)(0xA0 + 16 * k + i);
			p.isvextprodid[i] = k == 1 ? 0 : (uint8_t)(0x3C ^ (7 * i + k));
		}
		vec_layout(&v[k], true, &l);
		CHECK_EQ(sgx_layout_measure(&l, mr), 0);
		CHECK_EQ(sgx_sigstruct_sign(key, &p, mr, &sig), 0);
		CHECK_MEM((const uint8_t *)&sig + 912, p.isvfamilyid, 16);
		CHECK_MEM((const uint8_t *)&sig + 1008, p.isvextprodid, 16);
		CHECK_SGX(sgx_sigstruct_check(&sig, NULL), SGX_SUCCESS);
		if (live) {
			uint8_t *osig;
			size_t len;
			FILE *f;
			bool clean = false;

			write_oracle_layout(&l, &p, dir);
			snprintf(cmd, sizeof(cmd), "python3 '%s' sign '%s/layout.json' '%s/oracle_key.json' '%s/sig.bin'",
				 ORACLE_PATH, dir, VEC_DIR, dir);
			CHECK_EQ(system(cmd), 0);
			snprintf(path, sizeof(path), "%s/sig.bin", dir);
			osig = read_all(path, &len);
			CHECK_EQ(len, sizeof(sig));
			check_same_sigstruct(&sig, osig);
			CHECK_SGX(sgx_sigstruct_check((const struct sgx_sigstruct *)osig, NULL), SGX_SUCCESS);
			free(osig);
			/* The oracle's checker on our bytes. */
			write_all(path, &sig, sizeof(sig));
			snprintf(cmd, sizeof(cmd), "python3 '%s' show '%s/sig.bin'", ORACLE_PATH, dir);
			f = popen(cmd, "r");
			CHECK(f);
			while (fgets(line, sizeof(line), f))
				clean |= strstr(line, "\"problems\": []") != NULL;
			CHECK_EQ(pclose(f), 0);
			CHECK_MSG(clean, "build %zu: the oracle finds problems in our SIGSTRUCT", k);
			unlink(path);
		}
		sgx_layout_free(&l);
	}
	if (live) {
		printf("  3 SIGSTRUCTs with ISVFAMILYID/ISVEXTPRODID agree with the live oracle\n");
		snprintf(path, sizeof(path), "%s/layout.json", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/blob.bin", dir);
		unlink(path);
		CHECK(rmdir(dir) == 0);
	}
	free(v);
	EVP_PKEY_free(key);
	no_leaks();
}
