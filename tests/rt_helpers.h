/*
 * rt_helpers.h: the sample enclave built on a core in this process and
 * run through the runtime's enter function (rt_enclu.h), as a loader over
 * the driver would: ECREATE at a reserved, size-aligned base, EADD of the
 * image and heap pages, EINIT, then the enclave's contents object mapped
 * at the base with each page's protection (TCS pages inaccessible).
 *
 * No userfaultfd here: pages stay resident unless a test writes one back
 * itself, and such a page is not touched through the mapping until
 * something loads it again.  Header-only; helpers end the case on failure.
 */
#ifndef SGXEMU_TEST_RT_HELPERS_H
#define SGXEMU_TEST_RT_HELPERS_H

#include <sys/mman.h>

#include "core_helpers.h"
#include "sgxemu/rt_enclu.h"
#include "../enclave/sample_abi.h"

struct rt_encl {
	struct sgx_core *core;
	struct sgx_encl *encl;
	struct sgxrt_enclave *rt;
	uint8_t *reserve; /* 2 * size reserved, base inside it */
	uint8_t *base;
	uint64_t size;
	uint64_t image_end; /* offset of the heap */
	uint64_t heap_pages;
	int contents_fd;
	struct sgx_layout layout;
};

/* The contents placement hook: mmap as the core does, keeping a copy of
 * the descriptor for the test's own mapping at the enclave's base. */
static int rt_last_contents_fd = -1;

static int rt_place(void *ctx, int fd, uint64_t size, void **addr)
{
	void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);

	if (a == MAP_FAILED)
		return -errno;
	rt_last_contents_fd = dup(fd);
	*addr = a;
	return 0;
}

static void rt_unplace(void *ctx, void *addr, uint64_t size)
{
	munmap(addr, size);
}

static const struct sgx_core_contents_ops rt_contents_ops = { rt_place, rt_unplace, NULL };

static void rt_kick(struct sgx_encl *encl, void *ctx)
{
	struct rt_encl *e = ctx;

	if (e->rt)
		(void)sgxrt_kick_enclave(e->rt);
}

static const struct sgx_encl_ops rt_encl_ops = { NULL, rt_kick };

/* The page walk: the page made resident, its frame. */
static int rt_page_frame(void *ctx, uint64_t offset, void **epc)
{
	struct rt_encl *e = ctx;
	struct sgx_encl_page_info info;
	uint8_t byte;

	if (sgx_encl_page_info(e->encl, offset, &info) || !info.present)
		return -EFAULT;
	if (!info.resident) {
		if (sgx_encl_read(e->encl, offset, &byte, 1))
			return -EFAULT;
		if (sgx_encl_page_info(e->encl, offset, &info) || !info.resident)
			return -EFAULT;
	}
	*epc = info.epc_addr;
	return 0;
}

static const struct sgxrt_enclave_ops rt_ops = { rt_page_frame };

/* A core of frames pages with the placement hook, and the runtime set up
 * on its machine. */
static inline struct sgx_core *rt_core(uint64_t frames, bool reclaimer)
{
	struct sgx_core_config cfg;
	struct sgx_cpu *cpu = ch_machine(frames);

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = !reclaimer;
	cfg.contents_ops = &rt_contents_ops;
	CHECK_EQ(sgxrt_enclu_init(cpu), 0);
	return ch_core(cpu, &cfg);
}

static int rt_prot(uint64_t flags)
{
	if (((flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT) !=
	    SGX_PAGE_TYPE_REG)
		return PROT_NONE;
	return ((flags & SGX_SECINFO_R) ? PROT_READ : 0) |
	       ((flags & SGX_SECINFO_W) ? PROT_WRITE : 0) |
	       ((flags & SGX_SECINFO_X) ? PROT_EXEC : 0);
}

/*
 * Builds the sample enclave with heap_pages of heap, signed with the test
 * key for isvprodid/isvsvn and the given extra attributes, and maps it.
 */
static inline void rt_build(struct sgx_core *core, uint64_t heap_pages, uint16_t isvsvn,
			    uint64_t attributes, struct rt_encl *e)
{
	struct sgx_elf_options opts = {
		.heap_pages = heap_pages,
		.ssa_frame_size = SAMPLE_SSA_FRAME_PAGES,
		.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG | attributes,
		.xfrm = SGX_XFRM_LEGACY,
		.miscselect = SGX_MISC_EXINFO,
	};
	static const uint8_t zero[SGX_PAGE_SIZE];
	struct sgx_sign_params params;
	struct sgx_sigstruct sig;
	struct sgx_secs secs;
	uint8_t mrenclave[32];
	char err[256];
	uint64_t base;

	memset(e, 0, sizeof(*e));
	e->core = core;
	CHECK_MSG(sgx_load_image(SGXEMU_SAMPLE_ENCLAVE, &opts, &e->layout, err, sizeof(err)) == 0,
		  "%s", err);
	e->size = e->layout.size;
	e->heap_pages = heap_pages;
	e->image_end = e->layout.pages[e->layout.nr_pages - heap_pages].offset;
	e->reserve = mmap(NULL, 2 * e->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	CHECK(e->reserve != MAP_FAILED);
	base = ((uint64_t)(uintptr_t)e->reserve + e->size - 1) & ~(e->size - 1);
	e->base = (uint8_t *)(uintptr_t)base;

	memset(&secs, 0, sizeof(secs));
	secs.size = e->size;
	secs.base = base;
	secs.ssa_frame_size = e->layout.ssa_frame_size;
	secs.miscselect = e->layout.miscselect;
	secs.attributes = e->layout.attributes;
	secs.xfrm = e->layout.xfrm;
	rt_last_contents_fd = -1;
	CHECK_EQ(sgx_encl_create(core, &secs, &rt_encl_ops, e, &e->encl), 0);
	e->contents_fd = rt_last_contents_fd;
	CHECK_GE(e->contents_fd, 0);
	for (size_t i = 0; i < e->layout.nr_pages; i++) {
		const struct sgx_layout_page *p = &e->layout.pages[i];
		struct sgx_secinfo si;

		memset(&si, 0, sizeof(si));
		si.flags = p->secinfo_flags;
		CHECK_EQ(sgx_encl_add_page(e->encl, p->offset, p->data ? p->data : zero, &si,
					   sgx_layout_page_chunks(p)), 0);
	}
	CHECK_EQ(sgx_layout_measure(&e->layout, mrenclave), 0);
	memset(&params, 0, sizeof(params));
	params.date = 0x20260101;
	params.attributes = secs.attributes;
	params.xfrm = secs.xfrm;
	params.attributes_mask = ~0ULL;
	params.xfrm_mask = ~0ULL;
	params.miscselect = secs.miscselect;
	params.misc_mask = ~0U;
	params.isvprodid = 7;
	params.isvsvn = isvsvn;
	CHECK_EQ(sgx_sigstruct_sign(ch_key(), &params, mrenclave, &sig), 0);
	CHECK_EQ(sgx_encl_init(e->encl, &sig, NULL, NULL), 0);

	/* The loader's mapping: every page with its own protection. */
	CHECK(mmap(e->base, e->size, PROT_NONE, MAP_SHARED | MAP_FIXED, e->contents_fd, 0) ==
	      e->base);
	for (size_t i = 0; i < e->layout.nr_pages; i++) {
		const struct sgx_layout_page *p = &e->layout.pages[i];

		CHECK_EQ(mprotect(e->base + p->offset, SGX_PAGE_SIZE, rt_prot(p->secinfo_flags)), 0);
	}
	CHECK_EQ(sgxrt_enclave_register(base, e->size, &rt_ops, e, &e->rt), 0);
}

static inline void rt_destroy(struct rt_encl *e)
{
	sgxrt_enclave_unregister(e->rt);
	e->rt = NULL;
	CHECK_EQ(munmap(e->reserve, 2 * e->size), 0);
	close(e->contents_fd);
	sgx_encl_release(e->encl);
	sgx_layout_free(&e->layout);
}

static inline void rt_finish(struct sgx_core *core)
{
	struct sgx_cpu *cpu = sgx_core_cpu(core);

	ch_finish(core, cpu, -1);
}

/* --- Calls -------------------------------------------------------------- */

/* Keeps RDX of every exit (the enclave's result) in user_data. */
static int rt_capture(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
		      struct sgx_enclave_run *run)
{
	run->user_data = (uint64_t)rdx;
	return 0;
}

static inline uint64_t rt_tcs(const struct rt_encl *e, unsigned int i)
{
	return (uint64_t)(uintptr_t)e->base + (uint64_t)i * SGX_PAGE_SIZE;
}

/* One call of op on TCS i: the enter function's return in *ret, the
 * enclave's result (RDX at the exit) returned. */
static inline long rt_call_ex(const struct rt_encl *e, unsigned int tcs, unsigned int leaf,
			      long op, long a1, long a2, long a3, struct sgx_enclave_run *run,
			      int *ret)
{
	memset(run, 0, sizeof(*run));
	run->tcs = rt_tcs(e, tcs);
	run->user_handler = (uint64_t)(uintptr_t)rt_capture;
	run->user_data = 0xdeadbeef;
	*ret = sgxrt_enter_enclave_c((unsigned long)op, (unsigned long)a1, (unsigned long)a2, leaf,
				   (unsigned long)a3, 0, run);
	return (long)run->user_data;
}

/* An ECALL that must end in EEXIT. */
static inline long rt_call(const struct rt_encl *e, unsigned int tcs, long op, long a1, long a2,
			   long a3)
{
	struct sgx_enclave_run run;
	int ret;
	long r = rt_call_ex(e, tcs, SGX_ENCLU_EENTER, op, a1, a2, a3, &run, &ret);

	CHECK_EQ(ret, 0);
	CHECK_MSG(run.function == SGX_ENCLU_EEXIT,
		  "op %ld: exit by function %u, vector %u, error %#x, addr %#llx", op, run.function,
		  run.exception_vector, run.exception_error_code,
		  (unsigned long long)run.exception_addr);
	return r;
}

#endif /* SGXEMU_TEST_RT_HELPERS_H */
