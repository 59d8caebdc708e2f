/*
 * test_frame_bind.c: sgx_cpu_frame_bind(), the memory controller's mapping
 * of a frame's contents: EADD into a bound frame lands in the bound
 * memory and nowhere else, EWB reads and ELDU writes a frame's bytes where
 * they are bound (also across a rebind between the two), VA pages live in
 * bound frames too, and a frame is rebound only while it is free.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "sgxemu/cpu.h"
#include "harness.h"

#define EPC_FRAMES 16
#define ENCL_SIZE (16 * 4096ULL)
#define ENCL_BASE 0x7f0000000000ULL

static struct sgx_cpu *machine(void)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_config_default(&cfg, EPC_FRAMES * 4096ULL);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	return cpu;
}

static void *frame(struct sgx_cpu *cpu, uint64_t i)
{
	return sgx_cpu_frame_addr(cpu, i);
}

static uint8_t *pages(size_t n)
{
	void *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

static void ecreate(struct sgx_cpu *cpu, void *epc)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = { 0 };
	struct sgx_secs *s = (struct sgx_secs *)pages(1);

	s->size = ENCL_SIZE;
	s->base = ENCL_BASE;
	s->ssa_frame_size = 1;
	s->attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	s->xfrm = SGX_XFRM_LEGACY;
	pginfo.contents = (uintptr_t)s;
	pginfo.metadata = (uintptr_t)&secinfo;
	CHECK_SGX(encls_ecreate(cpu, &pginfo, epc), 0);
	munmap(s, 4096);
}

static int eadd(struct sgx_cpu *cpu, void *secs, void *epc, uint64_t addr, const uint8_t *src)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	struct sgx_pageinfo pginfo = { 0 };

	pginfo.addr = addr;
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	pginfo.secs = (uintptr_t)secs;
	return encls_eadd(cpu, &pginfo, epc);
}

static void fill(uint8_t *p, uint8_t seed)
{
	for (unsigned int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void teardown(struct sgx_cpu *cpu)
{
	CHECK_EQ(sgx_cpu_check(cpu), 0);
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < sgx_cpu_nr_frames(cpu); i++) {
			int ret = encls_eremove(cpu, frame(cpu, i));

			CHECK_MSG(ret == 0 || (pass == 0 && ret == SGX_CHILD_PRESENT),
				  "EREMOVE frame %llu: %s", (unsigned long long)i, sgx_error_name(ret));
		}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 0);
	/* Every frame free again: each goes back to its own place. */
	for (uint64_t i = 0; i < sgx_cpu_nr_frames(cpu); i++) {
		CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, i), NULL), 0);
		CHECK(sgx_cpu_frame_bytes(cpu, frame(cpu, i)) == frame(cpu, i));
	}
	sgx_cpu_destroy(cpu);
}

TEST(bind_operands)
{
	struct sgx_cpu *cpu = machine();
	uint8_t *mem = pages(2);
	uint8_t outside[64];

	CHECK(sgx_cpu_frame_bytes(cpu, frame(cpu, 1)) == frame(cpu, 1));
	CHECK(sgx_cpu_frame_bytes(cpu, outside) == NULL);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, (uint8_t *)frame(cpu, 1) + 8, mem), -EINVAL);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, mem, mem + 4096), -EINVAL); /* not EPC */
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), mem + 8), -EINVAL);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), frame(cpu, 2)), -EINVAL);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), frame(cpu, 1)), 0); /* its own */
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), mem), 0);
	CHECK(sgx_cpu_frame_bytes(cpu, frame(cpu, 1)) == mem);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), mem + 4096), 0); /* rebind free */
	CHECK(sgx_cpu_frame_bytes(cpu, frame(cpu, 1)) == mem + 4096);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), NULL), 0);
	CHECK(sgx_cpu_frame_bytes(cpu, frame(cpu, 1)) == frame(cpu, 1));
	teardown(cpu);
	munmap(mem, 2 * 4096);
}

TEST(eadd_into_bound_frame_and_busy_while_valid)
{
	struct sgx_cpu *cpu = machine();
	uint8_t *mem = pages(2), *src = pages(1), *epc_copy = pages(1);
	uint64_t word;

	ecreate(cpu, frame(cpu, 0));
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 0), mem), -EBUSY); /* valid SECS */
	memcpy(epc_copy, frame(cpu, 1), 4096);
	fill(src, 0x31);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), mem + 4096), 0);
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 1), ENCL_BASE, src), 0);
	CHECK_EQ(memcmp(mem + 4096, src, 4096), 0);
	/* The frame's own place was not written. */
	CHECK_EQ(memcmp(frame(cpu, 1), epc_copy, 4096), 0);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), mem), -EBUSY);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), NULL), -EBUSY);
	CHECK(sgx_cpu_frame_bytes(cpu, frame(cpu, 1)) == mem + 4096);
	/* Debug reads and writes go where the bytes are. */
	mem[4096 + 16] = 0xEE;
	CHECK_SGX(encls_edbgrd(cpu, (uint8_t *)frame(cpu, 1) + 16, &word), 0);
	CHECK_EQ(word & 0xff, 0xEE);
	CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)frame(cpu, 1) + 24, 0x1122334455667788ULL), 0);
	memcpy(&word, mem + 4096 + 24, 8);
	CHECK_EQ(word, 0x1122334455667788ULL);
	/* EEXTEND measures the bound bytes: it must simply work. */
	CHECK_SGX(encls_eextend(cpu, frame(cpu, 0), frame(cpu, 1)), 0);
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 1)), 0);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), NULL), 0);
	teardown(cpu);
	munmap(mem, 2 * 4096);
	munmap(src, 4096);
	munmap(epc_copy, 4096);
}

TEST(ewb_and_eldu_follow_the_binding)
{
	struct sgx_cpu *cpu = machine();
	uint8_t *mem = pages(4), *src = pages(1), *out = pages(1);
	struct sgx_pcmd *pcmd = aligned_alloc(128, 128);
	struct sgx_pageinfo pginfo = { 0 };
	uint8_t *slot;

	ecreate(cpu, frame(cpu, 0));
	/* The VA page lives in bound memory too: its slots follow. */
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 2), mem + 3 * 4096), 0);
	memset(mem + 3 * 4096, 0xAB, 4096);
	CHECK_SGX(encls_epa(cpu, frame(cpu, 2)), 0);
	CHECK_EQ(mem[3 * 4096 + 100], 0); /* EPA zeroed the bound page */
	slot = (uint8_t *)frame(cpu, 2) + 8 * 5;

	fill(src, 0x77);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), mem), 0);
	CHECK_SGX(eadd(cpu, frame(cpu, 0), frame(cpu, 1), ENCL_BASE + 4096, src), 0);
	CHECK_SGX(encls_eblock(cpu, frame(cpu, 1)), 0);
	CHECK_SGX(encls_etrack(cpu, frame(cpu, 0)), 0);
	pginfo.contents = (uintptr_t)out;
	pginfo.metadata = (uintptr_t)pcmd;
	CHECK_SGX(encls_ewb(cpu, &pginfo, frame(cpu, 1), slot), 0);
	{
		uint64_t v;

		memcpy(&v, mem + 3 * 4096 + 8 * 5, 8);
		CHECK_MSG(v != 0, "the version went to the VA page's bound bytes");
	}
	/* The page is out; the old bytes are the software's to drop. */
	memset(mem, 0, 4096);
	/* Load it into another frame bound elsewhere. */
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 1), NULL), 0);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 5), mem + 2 * 4096), 0);
	pginfo.addr = ENCL_BASE + 4096;
	pginfo.secs = (uintptr_t)frame(cpu, 0);
	CHECK_SGX(encls_eldu(cpu, &pginfo, frame(cpu, 5), slot), 0);
	CHECK_EQ(memcmp(mem + 2 * 4096, src, 4096), 0);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 5), mem), -EBUSY);
	{
		uint64_t v;

		memcpy(&v, mem + 3 * 4096 + 8 * 5, 8);
		CHECK_EQ(v, 0); /* ELDU freed the slot in the bound VA page */
	}
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 5)), 0);
	CHECK_SGX(encls_eremove(cpu, frame(cpu, 2)), 0);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 5), NULL), 0);
	CHECK_EQ(sgx_cpu_frame_bind(cpu, frame(cpu, 2), NULL), 0);
	teardown(cpu);
	munmap(mem, 4 * 4096);
	munmap(src, 4096);
	munmap(out, 4096);
	free(pcmd);
}
