/*
 * harness.h: the test runner every tests/test_*.c links against.
 *
 * TEST(name) { ... } registers a case.  The runner forks a child per case,
 * with a time limit, so a crash, an abort or a hang in one case is reported
 * as that case's failure and the rest still run.  The CHECK macros print both
 * sides of a failed comparison with the file and line, then end the case.
 *
 *   ./test_x            run every case
 *   ./test_x NAME...    run the cases whose names contain NAME
 *   HARNESS_TIMEOUT=S   per-case limit in seconds (default 300)
 */
#ifndef SGXEMU_HARNESS_H
#define SGXEMU_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgxemu/cpu.h"

/* The faults of cpu.h as the tests' expectations spell them. */
#define GP ENCLS_GP
#define PF ENCLS_PF
#define MC ENCLS_MC

typedef void (*harness_fn)(void);
void harness_register(const char *name, harness_fn fn);
void harness_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* True when built with a sanitizer: stress tests shrink their work. */
bool harness_sanitized(void);
/* A seed for deterministic randomized tests: HARNESS_SEED or the default,
 * as harness_seed_from() reads them; the runner prints it when the case
 * fails. */
uint64_t harness_seed(uint64_t dflt);
/* s (NULL: dflt) as a generator state: a number as it is, any other
 * string by its hash, and 0 (which xorshift64* would never leave) as a
 * fixed nonzero state.  Never 0. */
uint64_t harness_seed_from(const char *s, uint64_t dflt);
/* xorshift64* generator, for seeded tests. */
static inline uint64_t harness_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#define TEST(name)                                                             \
	static void test_##name(void);                                         \
	__attribute__((constructor)) static void register_##name(void)         \
	{                                                                      \
		harness_register(#name, test_##name);                          \
	}                                                                      \
	static void test_##name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			harness_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);  \
	} while (0)

#define CHECK_MSG(cond, ...)                                                   \
	do {                                                                   \
		if (!(cond))                                                   \
			harness_fail(__FILE__, __LINE__, __VA_ARGS__);         \
	} while (0)

/* Integer comparisons: both values are printed in decimal and hex. */
#define CHECK_CMP(a, op, b)                                                    \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (!(_a op _b))                                               \
			harness_fail(__FILE__, __LINE__,                       \
				     "%s %s %s: %lld (0x%llx) vs %lld (0x%llx)", \
				     #a, #op, #b, _a, (unsigned long long)_a,   \
				     _b, (unsigned long long)_b);               \
	} while (0)
#define CHECK_EQ(a, b) CHECK_CMP(a, ==, b)
#define CHECK_NE(a, b) CHECK_CMP(a, !=, b)
#define CHECK_LT(a, b) CHECK_CMP(a, <, b)
#define CHECK_LE(a, b) CHECK_CMP(a, <=, b)
#define CHECK_GT(a, b) CHECK_CMP(a, >, b)
#define CHECK_GE(a, b) CHECK_CMP(a, >=, b)

/* SGX leaf results: prints the names of both codes. */
#define CHECK_SGX(ret, expect)                                                 \
	do {                                                                   \
		int _r = (ret), _e = (expect);                                 \
		if (_r != _e)                                                  \
			harness_fail(__FILE__, __LINE__, "%s: got %s (%#x), want %s (%#x)", \
				     #ret, sgx_error_name(_r), _r,              \
				     sgx_error_name(_e), _e);                  \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		if (strcmp(_a, _b) != 0)                                       \
			harness_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", \
				     #a, #b, _a, _b);                          \
	} while (0)

#define CHECK_MEM(a, b, n)                                                     \
	do {                                                                   \
		if (memcmp((a), (b), (n)) != 0)                                \
			harness_fail(__FILE__, __LINE__, "%s and %s differ (%zu bytes)", \
				     #a, #b, (size_t)(n));                     \
	} while (0)

const char *sgx_error_name(int ret);

#endif
