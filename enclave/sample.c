/*
 * sample.c: the sample enclave's trusted code.
 *
 * enclave_entry (entry.S) switches to the thread's enclave stack and calls
 * enclave_main(), which runs one operation and returns its result; the
 * operations (sample_abi.h) are what tests and the demo need from a real
 * enclave: a smoke test, touching many heap pages with a checkable
 * pattern, faulting on purpose, and EREPORT/EGETKEY.
 *
 * Freestanding: no libc, no compiler TLS (SAMPLE_OP_TLS reads its thread
 * control block through FS and GS by hand), no floating point or vector registers, and
 * no absolute addresses in initialized data (the image must carry no
 * dynamic relocation).  The few string functions compilers call are at the
 * bottom.
 */
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/arch.h"
#include "sample_abi.h"

/* Every symbol is defined in this image: address it RIP-relative. */
#pragma GCC visibility push(hidden)

/* The TCS layout entry.S writes must be arch.h's struct sgx_tcs. */
_Static_assert(offsetof(struct sgx_tcs, ssa_offset) == 16, "TCS.OSSA");
_Static_assert(offsetof(struct sgx_tcs, ssa_index) == 24, "TCS.CSSA");
_Static_assert(offsetof(struct sgx_tcs, nr_ssa_frames) == 28, "TCS.NSSA");
_Static_assert(offsetof(struct sgx_tcs, entry_offset) == 32, "TCS.OENTRY");
_Static_assert(offsetof(struct sgx_tcs, fs_offset) == 48, "TCS.OFSBASE");
_Static_assert(offsetof(struct sgx_tcs, gs_offset) == 56, "TCS.OGSBASE");
_Static_assert(offsetof(struct sgx_tcs, fs_limit) == 64, "TCS.FSLIMIT");
_Static_assert(offsetof(struct sgx_tcs, reserved) == 72, "TCS fixed part");
_Static_assert(sizeof(struct sgx_tcs) == SAMPLE_PAGE_SIZE, "TCS page");
_Static_assert(SAMPLE_STACK_SIZE % SAMPLE_PAGE_SIZE == 0, "stack pages");
_Static_assert(sizeof(struct sample_tcb) <= SAMPLE_PAGE_SIZE, "TCB page");

/* Defined by entry.S and enclave.lds. */
extern struct sgx_tcs sample_tcs[SAMPLE_NR_TCS];
extern struct sample_tcb sample_tcb_pages[SAMPLE_NR_TCS] __asm__("sample_tcb");
extern uint8_t sample_stacks[SAMPLE_NR_TCS * SAMPLE_STACK_SIZE];
extern uint8_t __enclave_end[];

long enclave_main(long op, long a1, long a2, long a3);
extern uint64_t sample_data_word;
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Target of SAMPLE_FAULT_WRITE_RO, in the read-only segment. */
static const uint64_t sample_ro_word __attribute__((used, section(".rodata.sample"))) =
	SAMPLE_RO_WORD;

/* Initialized writable data, so that the data segment carries file bytes a
 * loader must copy; SAMPLE_STAT_DATA_WORD reads it back. */
uint64_t sample_data_word = SAMPLE_DATA_WORD;

/* Calls completed by all threads together. */
static uint64_t sample_calls;

/* Keeps the compiler from dropping stores to memory that dies next. */
static inline void sample_barrier(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* The TCS this call came in on.  Each TCS has its own stack, so the
 * address of any local names the thread. */
static unsigned long sample_thread_index(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	return (sp - (uintptr_t)sample_stacks) / SAMPLE_STACK_SIZE;
}

/* Heap pages [first, first + count) are within the heap the enclave may
 * use; written so that no sum can wrap. */
static int sample_heap_range_ok(long first, long count)
{
	return first >= 0 && count >= 0 && first <= SAMPLE_HEAP_MAX_PAGES &&
	       count <= SAMPLE_HEAP_MAX_PAGES - first;
}

static uint64_t *sample_heap_page(uint64_t page)
{
	return (uint64_t *)(__enclave_end + page * SAMPLE_PAGE_SIZE);
}

/* SAMPLE_OP_FILL: writes the pattern, returns the checksum of it. */
static long sample_fill(uint64_t seed, long count, long first)
{
	uint64_t sum = SAMPLE_CHECKSUM_INIT;

	if (!sample_heap_range_ok(first, count))
		return SAMPLE_EINVAL;
	for (uint64_t p = first; p < (uint64_t)(first + count); p++) {
		uint64_t *w = sample_heap_page(p);

		for (uint64_t i = 0; i < SAMPLE_PAGE_SIZE / 8; i++) {
			w[i] = sample_pattern(seed, p, i);
			sum = sample_checksum_step(sum, w[i]);
		}
	}
	return sample_checksum_final(sum);
}

/* SAMPLE_OP_CHECKSUM: the checksum of the pages as they are. */
static long sample_checksum(long count, long first)
{
	uint64_t sum = SAMPLE_CHECKSUM_INIT;

	if (!sample_heap_range_ok(first, count))
		return SAMPLE_EINVAL;
	for (uint64_t p = first; p < (uint64_t)(first + count); p++) {
		const volatile uint64_t *w = sample_heap_page(p);

		for (uint64_t i = 0; i < SAMPLE_PAGE_SIZE / 8; i++)
			sum = sample_checksum_step(sum, w[i]);
	}
	return sample_checksum_final(sum);
}

/* SAMPLE_OP_VERIFY: how many pages hold exactly seed's pattern. */
static long sample_verify(uint64_t seed, long count, long first)
{
	long good = 0;

	if (!sample_heap_range_ok(first, count))
		return SAMPLE_EINVAL;
	for (uint64_t p = first; p < (uint64_t)(first + count); p++) {
		const volatile uint64_t *w = sample_heap_page(p);
		uint64_t i;

		for (i = 0; i < SAMPLE_PAGE_SIZE / 8; i++)
			if (w[i] != sample_pattern(seed, p, i))
				break;
		if (i == SAMPLE_PAGE_SIZE / 8)
			good++;
	}
	return good;
}

/* SAMPLE_OP_FAULT: each kind raises a different exception.  Inline
 * assembly, because C would be free to treat these as undefined. */
static long sample_fault(long kind, long addr)
{
	uint64_t val;

	switch (kind) {
	case SAMPLE_FAULT_UD2:
		__asm__ volatile("ud2");
		__builtin_unreachable();
	case SAMPLE_FAULT_READ:
		__asm__ volatile("movq (%1), %0" : "=r"(val) : "r"(addr) : "memory");
		return (long)val;
	case SAMPLE_FAULT_WRITE_RO:
		__asm__ volatile("movq %1, %0" : "=m"(*(volatile uint64_t *)&sample_ro_word)
				 : "r"((uint64_t)0) : "memory");
		return SAMPLE_FAULT_WRITE_RO;
	case SAMPLE_FAULT_INT3:
		__asm__ volatile("int3" ::: "memory");
		return SAMPLE_FAULT_INT3;
	case SAMPLE_FAULT_DIV0: {
		uint64_t lo = 1000, hi = 0;

		__asm__ volatile("divq %2" : "+a"(lo), "+d"(hi) : "r"((uint64_t)addr) : "cc");
		return (long)lo;
	}
	case SAMPLE_FAULT_WRITE_TCS:
		__asm__ volatile("movq %1, %0"
				 : "=m"(*(volatile uint64_t *)&sample_tcs[sample_thread_index()])
				 : "r"((uint64_t)0) : "memory");
		return SAMPLE_FAULT_WRITE_TCS;
	case SAMPLE_FAULT_WRITE:
		__asm__ volatile("movq %1, (%0)" : : "r"(addr), "r"((uint64_t)0x5741) : "memory");
		return SAMPLE_FAULT_WRITE;
	}
	return SAMPLE_EINVAL;
}

/*
 * [p, p + len) lies entirely outside the enclave.  The enclave's extent is
 * taken as the image plus the largest heap it uses; a pointer into it from
 * the untrusted side would let the caller make the enclave read or write
 * its own memory on the caller's behalf.
 */
static int sample_outside(long p, size_t len)
{
	uintptr_t start = (uintptr_t)sample_tcs;
	uintptr_t end = (uintptr_t)__enclave_end +
			(uintptr_t)SAMPLE_HEAP_MAX_PAGES * SAMPLE_PAGE_SIZE;
	uintptr_t a = (uintptr_t)p;

	if (a == 0 || a + len < a)
		return 0;
	return a + len <= start || a >= end;
}

/*
 * EREPORT: RBX = TARGETINFO (512-aligned), RCX = REPORTDATA (128-aligned),
 * RDX = output REPORT (512-aligned); all three in the enclave.  No status.
 */
static void sample_ereport(const struct sgx_targetinfo *ti, const uint8_t *data,
			   struct sgx_report *report)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xd7" /* ENCLU */
			 :
			 : "a"((uint64_t)EREPORT), "b"(ti), "c"(data), "d"(report)
			 : "memory", "cc");
}

/*
 * EGETKEY: RBX = KEYREQUEST (512-aligned), RCX = 16-byte key output
 * (16-aligned).  RAX returns 0 or an SGX error code.
 */
static long sample_egetkey(const struct sgx_keyrequest *req, uint8_t *key)
{
	uint64_t rax = EGETKEY;

	__asm__ volatile(".byte 0x0f, 0x01, 0xd7" /* ENCLU */
			 : "+a"(rax)
			 : "b"(req), "c"(key)
			 : "memory", "cc");
	return (long)rax;
}

/*
 * SAMPLE_OP_KEYS.  The input is copied into aligned buffers on the enclave
 * stack, the leaf writes its output there, and only then is the output
 * copied out; the enclave copies are wiped before returning.
 */
static long sample_keys(long out, long in, long leaf)
{
	struct sgx_targetinfo ti;
	struct sgx_report report;
	struct sgx_keyrequest req;
	uint8_t data[64] __attribute__((aligned(128)));
	uint8_t key[16] __attribute__((aligned(16)));
	long ret = 0;

	switch (leaf) {
	case SAMPLE_KEYS_EREPORT:
		if (!sample_outside(in, SAMPLE_KEYS_EREPORT_IN_SIZE) ||
		    !sample_outside(out, SAMPLE_KEYS_EREPORT_OUT_SIZE))
			return SAMPLE_EINVAL;
		memcpy(&ti, (const void *)in, sizeof(ti));
		memcpy(data, (const uint8_t *)in + sizeof(ti), sizeof(data));
		memset(&report, 0, sizeof(report));
		sample_ereport(&ti, data, &report);
		memcpy((void *)out, &report, SAMPLE_KEYS_EREPORT_OUT_SIZE);
		memset(&report, 0, sizeof(report));
		sample_barrier(&report);
		return 0;
	case SAMPLE_KEYS_EGETKEY:
		if (!sample_outside(in, SAMPLE_KEYS_EGETKEY_IN_SIZE) ||
		    !sample_outside(out, SAMPLE_KEYS_EGETKEY_OUT_SIZE))
			return SAMPLE_EINVAL;
		memcpy(&req, (const void *)in, sizeof(req));
		memset(key, 0, sizeof(key));
		ret = sample_egetkey(&req, key);
		if (ret == 0)
			memcpy((void *)out, key, sizeof(key));
		memset(key, 0, sizeof(key));
		sample_barrier(key);
		return ret;
	}
	return SAMPLE_EINVAL;
}

/* --- Sealing -------------------------------------------------------------
 * A keyed mixing function stands for the cipher (sample_abi.h): the
 * keystream word i and the tag are functions of the 128-bit key. */
static uint64_t sample_mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t sample_keyword(const uint8_t key[16], uint64_t i)
{
	uint64_t k0, k1;

	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
	return sample_mix(sample_mix(k0 ^ (i * 0x9e3779b97f4a7c15ULL)) ^ k1);
}

struct sample_blob {
	uint16_t keypolicy;
	uint16_t isvsvn;
	uint8_t reserved[4];
	uint8_t keyid[32];
	uint64_t data[SAMPLE_SEAL_DATA / 8];
	uint64_t tag[2];
};
_Static_assert(sizeof(struct sample_blob) == SAMPLE_SEAL_BLOB, "blob layout");

static void sample_tag(const uint8_t key[16], const struct sample_blob *b, uint64_t tag[2])
{
	uint64_t h = sample_keyword(key, 1000) ^ b->keypolicy ^ ((uint64_t)b->isvsvn << 16);

	for (unsigned int i = 0; i < SAMPLE_SEAL_DATA / 8; i++)
		h = sample_mix(h ^ b->data[i]) + i;
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t w;

		memcpy(&w, b->keyid + 8 * i, 8);
		h = sample_mix(h ^ w);
	}
	tag[0] = h;
	tag[1] = sample_mix(h ^ sample_keyword(key, 1001));
}

static long sample_seal_key(const struct sample_blob *b, uint8_t key[16])
{
	struct sgx_keyrequest req;

	memset(&req, 0, sizeof(req));
	req.keyname = SGX_KEYNAME_SEAL;
	req.keypolicy = b->keypolicy;
	req.isvsvn = b->isvsvn;
	req.attributemask.flags = ~0ULL;
	req.attributemask.xfrm = 0;
	req.miscmask = ~0U;
	memcpy(req.keyid, b->keyid, 32);
	return sample_egetkey(&req, key);
}

static long sample_seal(long out, long in, long policy)
{
	struct sample_blob b;
	uint8_t key[16] __attribute__((aligned(16)));
	uint32_t lo, hi;
	long ret;

	if (!sample_outside(in, SAMPLE_SEAL_DATA) || !sample_outside(out, SAMPLE_SEAL_BLOB) ||
	    policy < 0 || policy > 0xffff)
		return SAMPLE_EINVAL;
	memset(&b, 0, sizeof(b));
	b.keypolicy = (uint16_t)policy;
	/* A fresh KEYID: the time stamp counter and the call count. */
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t w = sample_mix(((uint64_t)hi << 32 | lo) + i +
					__atomic_load_n(&sample_calls, __ATOMIC_RELAXED) * 7919);

		memcpy(b.keyid + 8 * i, &w, 8);
	}
	ret = sample_seal_key(&b, key);
	if (ret)
		return ret;
	memcpy(b.data, (const void *)in, SAMPLE_SEAL_DATA);
	for (unsigned int i = 0; i < SAMPLE_SEAL_DATA / 8; i++)
		b.data[i] ^= sample_keyword(key, i);
	sample_tag(key, &b, b.tag);
	memcpy((void *)out, &b, sizeof(b));
	memset(key, 0, sizeof(key));
	sample_barrier(key);
	return 0;
}

static long sample_unseal(long out, long in)
{
	struct sample_blob b;
	uint8_t key[16] __attribute__((aligned(16)));
	uint64_t tag[2];
	long ret;

	if (!sample_outside(in, SAMPLE_SEAL_BLOB) || !sample_outside(out, SAMPLE_SEAL_DATA))
		return SAMPLE_EINVAL;
	memcpy(&b, (const void *)in, sizeof(b));
	ret = sample_seal_key(&b, key);
	if (ret)
		return ret;
	sample_tag(key, &b, tag);
	if (tag[0] != b.tag[0] || tag[1] != b.tag[1]) {
		ret = SAMPLE_EBADMSG;
		goto out;
	}
	for (unsigned int i = 0; i < SAMPLE_SEAL_DATA / 8; i++)
		b.data[i] ^= sample_keyword(key, i);
	memcpy((void *)out, b.data, SAMPLE_SEAL_DATA);
out:
	memset(key, 0, sizeof(key));
	memset(&b, 0, sizeof(b));
	sample_barrier(key);
	sample_barrier(&b);
	return ret;
}

/* SAMPLE_OP_TLS: the thread control block through FS and GS. */
static long sample_tls(long add, unsigned long self)
{
	uint64_t fmagic, gmagic, findex, gindex, v;

	__asm__ volatile("movq %%fs:0, %0" : "=r"(fmagic));
	__asm__ volatile("movq %%gs:0, %0" : "=r"(gmagic));
	__asm__ volatile("movq %%fs:8, %0" : "=r"(findex));
	__asm__ volatile("movq %%gs:8, %0" : "=r"(gindex));
	if (fmagic != SAMPLE_TCB_MAGIC || gmagic != SAMPLE_TCB_MAGIC || findex != self ||
	    gindex != self)
		return SAMPLE_BAD_TLS;
	__asm__ volatile("movq %%fs:24, %0" : "=r"(v));
	v += (uint64_t)add;
	__asm__ volatile("movq %0, %%fs:24" : : "r"(v) : "memory");
	return (long)v;
}

/* SAMPLE_OP_SPIN. */
static long sample_spin(long started, long stop)
{
	long loops = 0;

	if (!sample_outside(started, 8) || !sample_outside(stop, 8))
		return SAMPLE_EINVAL;
	*(volatile uint64_t *)started = 1;
	while (!*(volatile uint64_t *)stop) {
		__asm__ volatile("pause");
		loops++;
	}
	return loops;
}

/* SAMPLE_OP_STATS. */
static long sample_stats(long which, unsigned long self)
{
	switch (which) {
	case SAMPLE_STAT_CALLS:
		return (long)__atomic_load_n(&sample_calls, __ATOMIC_RELAXED);
	case SAMPLE_STAT_THREAD_CALLS:
		return self < SAMPLE_NR_TCS ? (long)sample_tcb_pages[self].nr_calls
					    : SAMPLE_EINVAL;
	case SAMPLE_STAT_DATA_WORD:
		return (long)*(volatile uint64_t *)&sample_data_word;
	case SAMPLE_STAT_RO_WORD:
		return (long)*(const volatile uint64_t *)&sample_ro_word;
	}
	return SAMPLE_EINVAL;
}

long enclave_main(long op, long a1, long a2, long a3)
{
	unsigned long self = sample_thread_index();
	long ret;

	switch (op) {
	case SAMPLE_OP_ADD:
		ret = (long)((unsigned long)a1 + (unsigned long)a2);
		break;
	case SAMPLE_OP_FILL:
		ret = sample_fill((uint64_t)a1, a2, a3);
		break;
	case SAMPLE_OP_CHECKSUM:
		ret = sample_checksum(a2, a3);
		break;
	case SAMPLE_OP_FAULT:
		ret = sample_fault(a1, a2);
		break;
	case SAMPLE_OP_KEYS:
		ret = sample_keys(a1, a2, a3);
		break;
	case SAMPLE_OP_VERIFY:
		ret = sample_verify((uint64_t)a1, a2, a3);
		break;
	case SAMPLE_OP_TCS_INDEX:
		ret = (long)self;
		break;
	case SAMPLE_OP_STATS:
		ret = sample_stats(a1, self);
		break;
	case SAMPLE_OP_SEAL:
		ret = sample_seal(a1, a2, a3);
		break;
	case SAMPLE_OP_UNSEAL:
		ret = sample_unseal(a1, a2);
		break;
	case SAMPLE_OP_TLS:
		ret = sample_tls(a1, self);
		break;
	case SAMPLE_OP_SPIN:
		ret = sample_spin(a1, a2);
		break;
	default:
		ret = SAMPLE_EINVAL;
		break;
	}
	if (self < SAMPLE_NR_TCS)
		sample_tcb_pages[self].nr_calls++;
	__atomic_fetch_add(&sample_calls, 1, __ATOMIC_RELAXED);
	return ret;
}

/* The string functions the compiler may call.  Byte loops: the build passes
 * -fno-tree-loop-distribute-patterns so these do not become calls to
 * themselves. */
void *memset(void *s, int c, size_t n)
{
	uint8_t *p = s;

	while (n--)
		*p++ = (uint8_t)c;
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

#pragma GCC visibility pop
