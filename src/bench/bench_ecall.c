/*
 * bench_ecall.c: the ECALL round trip (EENTER to EEXIT through the
 * runtime's enter function, rt_enclu.h) beside a bare trap of the kind
 * this host raises for ENCLU (the same three bytes, caught by a handler
 * that only steps over them), measured in one run, interleaved in rounds
 * so that both see the same host.
 *
 * The enclave is the sample image, built on a core in this process and
 * mapped at its base as a loader maps it; every page stays resident.  An
 * ECALL costs the enter function's processor part (the TCS and SSA
 * checks, URSP/URBP, the tracking bookkeeping), one signal mask change,
 * the FS/GS switch, and the EEXIT trap with its handler's work; the floor
 * is the trap alone.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench/bench.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"
#include "sgxemu/rt_enclu.h"
#include "sgxemu/sign.h"
#include "../../enclave/sample_abi.h"

#define ROUND 500

struct ecall_ctx {
	struct sgx_encl *encl;
	int contents_fd;
};

static int place(void *ctx, int fd, uint64_t size, void **addr)
{
	struct ecall_ctx *c = ctx;
	void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);

	if (a == MAP_FAILED)
		return -errno;
	c->contents_fd = dup(fd);
	*addr = a;
	return 0;
}

static void unplace(void *ctx, void *addr, uint64_t size)
{
	munmap(addr, size);
}

static int page_frame(void *ctx, uint64_t offset, void **epc)
{
	struct ecall_ctx *c = ctx;
	struct sgx_encl_page_info info;

	if (sgx_encl_page_info(c->encl, offset, &info) || !info.present || !info.resident)
		return -EFAULT;
	*epc = info.epc_addr;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void step_over(int signo, siginfo_t *si, void *uc)
{
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] += 3;
}

static int prot_of(uint64_t flags)
{
	if (((flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT) !=
	    SGX_PAGE_TYPE_REG)
		return PROT_NONE;
	return ((flags & SGX_SECINFO_R) ? PROT_READ : 0) |
	       ((flags & SGX_SECINFO_W) ? PROT_WRITE : 0) |
	       ((flags & SGX_SECINFO_X) ? PROT_EXEC : 0);
}

/* ECREATE at a size-aligned base inside a reservation, EADD, EINIT. */
static int build(struct sgx_core *core, const struct sgx_layout *l, EVP_PKEY *key,
		 struct ecall_ctx *c, uint8_t **reserve, uint8_t **base)
{
	static const uint8_t zero[SGX_PAGE_SIZE];
	struct sgx_sign_params params;
	struct sgx_sigstruct sig;
	struct sgx_secs secs;
	uint8_t mrenclave[32];
	int ret;

	*reserve = mmap(NULL, 2 * l->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			-1, 0);
	if (*reserve == MAP_FAILED)
		return -ENOMEM;
	*base = (uint8_t *)(((uintptr_t)*reserve + l->size - 1) & ~(uintptr_t)(l->size - 1));
	memset(&secs, 0, sizeof(secs));
	secs.size = l->size;
	secs.base = (uint64_t)(uintptr_t)*base;
	secs.ssa_frame_size = l->ssa_frame_size;
	secs.miscselect = l->miscselect;
	secs.attributes = l->attributes;
	secs.xfrm = l->xfrm;
	ret = sgx_encl_create(core, &secs, NULL, NULL, &c->encl);
	if (ret)
		return ret;
	for (size_t i = 0; i < l->nr_pages; i++) {
		struct sgx_secinfo si;

		memset(&si, 0, sizeof(si));
		si.flags = l->pages[i].secinfo_flags;
		ret = sgx_encl_add_page(c->encl, l->pages[i].offset,
					l->pages[i].data ? l->pages[i].data : zero, &si,
					sgx_layout_page_chunks(&l->pages[i]));
		if (ret)
			return ret;
	}
	ret = sgx_layout_measure(l, mrenclave);
	if (ret)
		return ret;
	memset(&params, 0, sizeof(params));
	params.date = 0x20260101;
	params.attributes = secs.attributes;
	params.xfrm = secs.xfrm;
	params.attributes_mask = ~0ULL;
	params.xfrm_mask = ~0ULL;
	ret = sgx_sigstruct_sign(key, &params, mrenclave, &sig);
	if (!ret)
		ret = sgx_encl_init(c->encl, &sig, NULL, NULL);
	if (ret)
		return ret;
	if (mmap(*base, l->size, PROT_NONE, MAP_SHARED | MAP_FIXED, c->contents_fd, 0) != *base)
		return -errno;
	for (size_t i = 0; i < l->nr_pages; i++)
		if (mprotect(*base + l->pages[i].offset, SGX_PAGE_SIZE,
			     prot_of(l->pages[i].secinfo_flags)))
			return -errno;
	return 0;
}

int sgx_bench_ecall(const char *image, EVP_PKEY *key, uint64_t iterations,
		    struct sgx_bench_ecall *out)
{
	struct sgx_elf_options opts = {
		.heap_pages = 16,
		.ssa_frame_size = SAMPLE_SSA_FRAME_PAGES,
		.attributes = SGX_ATTR_MODE64BIT,
		.xfrm = SGX_XFRM_LEGACY,
	};
	struct ecall_ctx ctx = { .contents_fd = -1 };
	struct sgx_core_contents_ops ops = { place, unplace, &ctx };
	struct sgxrt_enclave_ops rops = { page_frame };
	struct sigaction step = { .sa_sigaction = step_over, .sa_flags = SA_SIGINFO };
	struct sigaction old_ill, old_segv;
	struct sgx_core_config kc;
	struct sgx_cpu_config cc;
	struct sgxrt_enclave *rt = NULL;
	struct sgx_layout layout;
	struct sgx_core *core = NULL;
	struct sgx_cpu *cpu = NULL;
	uint64_t *ecall = NULL, *trap = NULL, n;
	uint8_t *reserve = NULL, *base = NULL;
	char err[256];
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&layout, 0, sizeof(layout));
	n = iterations < ROUND ? ROUND : iterations / ROUND * ROUND;
	ecall = calloc(n, sizeof(*ecall));
	trap = calloc(n, sizeof(*trap));
	if (!ecall || !trap) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sgx_load_image(image, &opts, &layout, err, sizeof(err));
	if (ret)
		goto out;
	sgx_cpu_config_default(&cc, 16ULL << 20);
	ret = sgx_cpu_create(&cc, &cpu);
	if (ret)
		goto out;
	ret = sgxrt_enclu_init(cpu);
	if (ret)
		goto out;
	sgx_core_config_default(&kc);
	kc.no_reclaimer_thread = true;
	kc.contents_ops = &ops;
	ret = sgx_core_create(cpu, &kc, &core);
	if (ret)
		goto out;
	ret = build(core, &layout, key, &ctx, &reserve, &base);
	if (ret)
		goto out;
	ret = sgxrt_enclave_register((uint64_t)(uintptr_t)base, layout.size, &rops, &ctx, &rt);
	if (ret)
		goto out;

	for (uint64_t r = 0; r < n; r += ROUND) {
		for (uint64_t i = r; i < r + ROUND; i++) {
			struct sgx_enclave_run run;
			uint64_t t0;

			memset(&run, 0, sizeof(run));
			run.tcs = (uint64_t)(uintptr_t)base;
			t0 = now_ns();
			ret = sgxrt_enter_enclave_c(SAMPLE_OP_ADD, 1, 2, SGX_ENCLU_EENTER, 0, 0, &run);
			ecall[i] = now_ns() - t0;
			if (ret || run.function != SGX_ENCLU_EEXIT) {
				ret = -EIO;
				goto out;
			}
		}
		/* The floor: the same trap with nothing but a step over it. */
		sigaction(SIGILL, &step, &old_ill);
		sigaction(SIGSEGV, &step, &old_segv);
		for (uint64_t i = r; i < r + ROUND; i++) {
			uint64_t t0 = now_ns();

			__asm__ volatile(".byte 0x0f, 0x01, 0xd7" ::: "memory");
			trap[i] = now_ns() - t0;
		}
		sigaction(SIGILL, &old_ill, NULL);
		sigaction(SIGSEGV, &old_segv, NULL);
	}
	qsort(ecall, n, sizeof(*ecall), cmp_u64);
	qsort(trap, n, sizeof(*trap), cmp_u64);
	out->iterations = n;
	out->ecall_p50_us = ecall[n / 2] / 1000.0;
	out->ecall_p99_us = ecall[n * 99 / 100] / 1000.0;
	out->trap_p50_us = trap[n / 2] / 1000.0;
	out->trap_p99_us = trap[n * 99 / 100] / 1000.0;
	out->ecall_ratio = out->trap_p50_us > 0 ? out->ecall_p50_us / out->trap_p50_us : 0;
	ret = 0;
out:
	sgxrt_enclave_unregister(rt);
	if (reserve && reserve != MAP_FAILED)
		munmap(reserve, 2 * layout.size);
	if (ctx.contents_fd >= 0)
		close(ctx.contents_fd);
	if (ctx.encl)
		sgx_encl_release(ctx.encl);
	if (core)
		sgx_core_destroy(core);
	/* The runtime keeps the machine for its handlers: it stays. */
	sgx_layout_free(&layout);
	free(ecall);
	free(trap);
	return ret;
}
