/*
 * hw.c: the processor and the core of a machine.  The one place that
 * makes them, so that the switch of the processor's state into memory the
 * clients share (the arena) happens here and nowhere else.
 *
 * The arena (../notes on issue 9, "The CPU state clients run ENCLU on"):
 * one large PROT_NONE reservation, at a fixed hint when it is free (else
 * where mmap puts it).  At its start, a memfd holding the processor's
 * state (sgx_cpu_create_in(): struct sgx_cpu, the EPCM, the EPC
 * sections); after it, every enclave's contents object, placed by the
 * core's contents hook, first fit.  A client maps the same memfds at the
 * same addresses, so every pointer the processor's state holds (a
 * frame's bytes, a section's base) means the same page there.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine/machine.h"
#include "sgxemu/core.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#ifdef SGXEMU_TSAN
/* TSan maps its shadow over most of the address space: application
 * mappings must stay in its low range (below 512 GiB). */
#define ARENA_SIZE (64ULL << 30)
#define ARENA_HINT 0x004000000000ULL
#else
#define ARENA_SIZE (1ULL << 40) /* 1 TiB of address space, none of it backed */
#define ARENA_HINT 0x5e0000000000ULL
#endif
#define ARENA_ALIGN (2ULL << 20) /* contents objects on 2 MiB boundaries */
#define ARENA_MAX_FREE 1024
#define MAX_ARENAS 16

struct hw_arena {
	struct sgx_cpu *cpu;
	uint8_t *base;
	int cpu_fd;
	uint64_t cpu_size; /* the processor's part, rounded to ARENA_ALIGN */
	struct sgx_core_contents_ops ops;
	/* lock guards free and nr_free: the free ranges after the
	 * processor's part, sorted by offset, never adjacent. */
	pthread_mutex_t lock;
	struct {
		uint64_t off, len;
	} free[ARENA_MAX_FREE];
	unsigned int nr_free;
};

static struct hw_arena *arenas[MAX_ARENAS];
static pthread_mutex_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t align_up(uint64_t n, uint64_t a)
{
	return (n + a - 1) & ~(a - 1);
}

/* First fit of len bytes; the offset, or 0 when nothing fits. */
static uint64_t arena_take(struct hw_arena *a, uint64_t len)
{
	uint64_t off = 0;

	pthread_mutex_lock(&a->lock);
	for (unsigned int i = 0; i < a->nr_free; i++) {
		if (a->free[i].len < len)
			continue;
		off = a->free[i].off;
		a->free[i].off += len;
		a->free[i].len -= len;
		if (!a->free[i].len) {
			memmove(&a->free[i], &a->free[i + 1], (a->nr_free - i - 1) * sizeof(a->free[0]));
			a->nr_free--;
		}
		break;
	}
	pthread_mutex_unlock(&a->lock);
	return off;
}

/* Gives [off, off + len) back, merging with its neighbours.  With the
 * table full the range is kept out of use (the reservation stays). */
static void arena_give(struct hw_arena *a, uint64_t off, uint64_t len)
{
	unsigned int i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->nr_free && a->free[i].off < off; i++)
		;
	if (i > 0 && a->free[i - 1].off + a->free[i - 1].len == off) {
		a->free[i - 1].len += len;
		if (i < a->nr_free && off + len == a->free[i].off) {
			a->free[i - 1].len += a->free[i].len;
			memmove(&a->free[i], &a->free[i + 1], (a->nr_free - i - 1) * sizeof(a->free[0]));
			a->nr_free--;
		}
	} else if (i < a->nr_free && off + len == a->free[i].off) {
		a->free[i].off = off;
		a->free[i].len += len;
	} else if (a->nr_free < ARENA_MAX_FREE) {
		memmove(&a->free[i + 1], &a->free[i], (a->nr_free - i) * sizeof(a->free[0]));
		a->free[i].off = off;
		a->free[i].len = len;
		a->nr_free++;
	}
	pthread_mutex_unlock(&a->lock);
}

/* The core's contents hook: the enclave's memfd mapped inside the arena. */
static int arena_map(void *ctx, int fd, uint64_t size, void **addr)
{
	struct hw_arena *a = ctx;
	uint64_t len = align_up(size, ARENA_ALIGN), off = arena_take(a, len);
	void *p;

	if (!off)
		return -ENOMEM;
	p = mmap(a->base + off, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		 fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		arena_give(a, off, len);
		return err;
	}
	*addr = p;
	return 0;
}

static void arena_unmap(void *ctx, void *addr, uint64_t size)
{
	struct hw_arena *a = ctx;
	uint64_t len = align_up(size, ARENA_ALIGN);

	/* Back to reserved: nothing else of this process may land there. */
	if (mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
		 0) == MAP_FAILED)
		return; /* keep it out of use */
	arena_give(a, (uint64_t)((uint8_t *)addr - a->base), len);
}

static void arena_free(struct hw_arena *a)
{
	if (a->base)
		munmap(a->base, ARENA_SIZE);
	if (a->cpu_fd >= 0)
		close(a->cpu_fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* Reserves the arena and maps the processor's memfd at its start. */
static int arena_create(const struct sgx_cpu_config *cc, struct hw_arena **out)
{
	uint64_t need = sgx_cpu_arena_size(cc);
	struct hw_arena *a = NULL;
	void *p;
	int ret;

	if (!need)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cpu_fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	a->cpu_size = align_up(need, ARENA_ALIGN);
	if (a->cpu_size >= ARENA_SIZE / 2) {
		ret = -EINVAL;
		goto err;
	}
	p = mmap((void *)ARENA_HINT, ARENA_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || p != (void *)ARENA_HINT) {
		if (p != MAP_FAILED)
			munmap(p, ARENA_SIZE);
		p = mmap(NULL, ARENA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	}
	if (p == MAP_FAILED) {
		ret = -ENOMEM;
		goto err;
	}
	a->base = p;
	a->cpu_fd = memfd_create("sgx processor", MFD_CLOEXEC);
	if (a->cpu_fd < 0 || ftruncate(a->cpu_fd, (off_t)need) ||
	    mmap(a->base, need, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, a->cpu_fd, 0) ==
		    MAP_FAILED) {
		ret = -errno;
		goto err;
	}
	a->free[0].off = a->cpu_size;
	a->free[0].len = ARENA_SIZE - a->cpu_size;
	a->nr_free = 1;
	a->ops.map = arena_map;
	a->ops.unmap = arena_unmap;
	a->ops.ctx = a;
	*out = a;
	return 0;
err:
	arena_free(a);
	return ret;
}

static struct hw_arena *arena_of(const struct sgx_cpu *cpu)
{
	struct hw_arena *a = NULL;

	pthread_mutex_lock(&arenas_lock);
	for (unsigned int i = 0; i < MAX_ARENAS && !a; i++)
		if (arenas[i] && arenas[i]->cpu == cpu)
			a = arenas[i];
	pthread_mutex_unlock(&arenas_lock);
	return a;
}

int sgx_machine_hw_arena(const struct sgx_cpu *cpu, struct sgx_machine_arena *out)
{
	struct hw_arena *a = arena_of(cpu);

	if (!a)
		return -ENOENT;
	out->base = a->base;
	out->size = ARENA_SIZE;
	out->cpu_fd = a->cpu_fd;
	out->cpu_size = sgx_cpu_arena_size(sgx_cpu_config(cpu));
	return 0;
}

void sgx_machine_config_default(struct sgx_machine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->epc_bytes = 64ULL << 20;
	cfg->nr_sections = 1;
	cfg->backing_limit_pct = SGX_MACHINE_BACKING_DEFAULT;
	cfg->lc_mode = SGX_LC_WRITABLE;
}

int sgx_machine_hw_create(const struct sgx_machine_config *cfg, struct sgx_cpu **cpu,
			  struct sgx_core **core)
{
	struct sgx_cpu_config cc;
	struct sgx_core_config kc;
	struct hw_arena *a = NULL;
	uint64_t frames, per, left;
	int ret;

	if (!cfg->nr_sections || cfg->nr_sections > SGX_MAX_EPC_SECTIONS)
		return -EINVAL;
	frames = cfg->epc_bytes / SGX_PAGE_SIZE;
	if (frames < cfg->nr_sections || cfg->epc_bytes % SGX_PAGE_SIZE)
		return -EINVAL;
	sgx_cpu_config_default(&cc, cfg->epc_bytes);
	/* Sections of equal size, the remainder in the last; one node each. */
	cc.nr_sections = cfg->nr_sections;
	per = frames / cfg->nr_sections;
	left = frames;
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		uint64_t n = i + 1 == cfg->nr_sections ? left : per;

		cc.sections[i].size = n * SGX_PAGE_SIZE;
		cc.sections[i].node = (int)i;
		left -= n;
	}
	cc.lc_mode = cfg->lc_mode;
	if (cfg->seeded) {
		cc.seeded = true;
		memset(cc.seed, 0, sizeof(cc.seed));
		memcpy(cc.seed, &cfg->seed, sizeof(cfg->seed));
	}
	ret = arena_create(&cc, &a);
	if (ret)
		return ret;
	ret = sgx_cpu_create_in(&cc, a->base, a->cpu_size, cpu);
	if (ret)
		goto err_arena;
	a->cpu = *cpu;
	sgx_core_config_default(&kc);
	if (cfg->backing_limit_pct != SGX_MACHINE_BACKING_DEFAULT)
		kc.backing_limit = frames * cfg->backing_limit_pct / 100;
	kc.contents_ops = &a->ops;
	ret = sgx_core_create(*cpu, &kc, core);
	if (ret)
		goto err_cpu;
	pthread_mutex_lock(&arenas_lock);
	for (unsigned int i = 0; i < MAX_ARENAS; i++)
		if (!arenas[i]) {
			arenas[i] = a;
			a = NULL;
			break;
		}
	pthread_mutex_unlock(&arenas_lock);
	if (a) {
		ret = -ENOSPC;
		sgx_core_destroy(*core);
		*core = NULL;
		goto err_cpu;
	}
	return 0;

err_cpu:
	sgx_cpu_destroy(*cpu);
	*cpu = NULL;
err_arena:
	arena_free(a);
	return ret;
}

void sgx_machine_hw_destroy(struct sgx_cpu *cpu, struct sgx_core *core)
{
	struct hw_arena *a = cpu ? arena_of(cpu) : NULL;

	if (core)
		sgx_core_destroy(core);
	if (cpu)
		sgx_cpu_destroy(cpu);
	if (a) {
		pthread_mutex_lock(&arenas_lock);
		for (unsigned int i = 0; i < MAX_ARENAS; i++)
			if (arenas[i] == a)
				arenas[i] = NULL;
		pthread_mutex_unlock(&arenas_lock);
		arena_free(a);
	}
}
