/*
 * build.c: builds an enclave on an emulated machine the way the Linux
 * driver does (see build.h): sgx_encl_create(), sgx_encl_add_page() with
 * EEXTEND of measured pages, and sgx_encl_init() with its launch-control
 * MSR writes and SGX_UNMASKED_EVENT retries.
 */
#include "tools/build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The kernel's EINIT retry budget: spins per round, rounds, pause (ms). */
#define EINIT_SPIN_COUNT 20
#define EINIT_SLEEP_COUNT 50
#define EINIT_SLEEP_MS 20

/* Enclaves are placed from here up, as a loader's mmap would place them. */
#define BUILD_BASE_HINT 0x7f0000000000ULL

static const uint8_t zero_page[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));

static void build_fail(struct build_status *st, const char *leaf, int ret, uint64_t offset)
{
	st->leaf = leaf;
	st->ret = ret;
	st->offset = offset;
}

uint64_t build_epc_bytes(uint64_t frames)
{
	const uint64_t mib = 1ULL << 20;

	if (frames > (1ULL << 40) / SGX_PAGE_SIZE)
		return 0;
	return (frames * SGX_PAGE_SIZE + mib - 1) / mib * mib;
}

int build_machine(uint64_t frames, uint64_t epc_bytes, enum sgx_lc_mode lc,
		  struct sgx_cpu **cpu)
{
	struct sgx_cpu_config cfg;

	if (!epc_bytes) {
		epc_bytes = build_epc_bytes(frames);
		if (!epc_bytes)
			return -EINVAL;
	}
	sgx_cpu_config_default(&cfg, epc_bytes);
	cfg.lc_mode = lc;
	return sgx_cpu_create(&cfg, cpu);
}

uint64_t build_frames_needed(const struct sgx_layout *layout)
{
	return 1 + (uint64_t)layout->nr_pages;
}

uint64_t build_base_for(uint64_t size)
{
	uint64_t base;

	if (size < 2 * SGX_PAGE_SIZE || (size & (size - 1)) || size > (1ULL << 46))
		return 0;
	base = (BUILD_BASE_HINT + size - 1) & ~(size - 1);
	/* Stay in the lower canonical half: base + size <= 2^47. */
	if (base + size > (1ULL << 47))
		return 0;
	return base;
}

void build_secs(const struct sgx_layout *layout, const struct sgx_sigstruct *sigstruct,
		uint64_t base, struct sgx_secs *secs)
{
	memset(secs, 0, sizeof(*secs));
	secs->size = layout->size;
	secs->base = base;
	secs->ssa_frame_size = layout->ssa_frame_size;
	secs->miscselect = sigstruct->body.miscselect;
	secs->attributes = sigstruct->body.attributes;
	secs->xfrm = sigstruct->body.xfrm;
}

int build_create(struct sgx_cpu *cpu, const struct sgx_layout *layout,
		 const struct sgx_sigstruct *sigstruct, uint64_t first_frame,
		 struct build_enclave *encl, struct build_status *st)
{
	static _Alignas(SGX_PAGE_SIZE) _Thread_local struct sgx_secs secs;
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = { 0 };
	uint64_t need = build_frames_needed(layout);
	int ret;

	memset(encl, 0, sizeof(*encl));
	memset(st, 0, sizeof(*st));
	encl->cpu = cpu;
	encl->size = layout->size;
	encl->first_frame = first_frame;
	encl->base = build_base_for(layout->size);
	if (!encl->base)
		return -EINVAL;
	if (first_frame > sgx_cpu_nr_frames(cpu) || need > sgx_cpu_nr_frames(cpu) - first_frame)
		return -ENOSPC;
	encl->epc = calloc(layout->nr_pages ? layout->nr_pages : 1, sizeof(*encl->epc));
	if (!encl->epc)
		return -ENOMEM;
	encl->nr_pages = layout->nr_pages;

	build_secs(layout, sigstruct, encl->base, &secs);

	pginfo.contents = (uint64_t)(uintptr_t)&secs;
	pginfo.metadata = (uint64_t)(uintptr_t)&secinfo;
	ret = encls_ecreate(cpu, &pginfo, sgx_cpu_frame_addr(cpu, first_frame));
	if (ret) {
		build_fail(st, "ECREATE", ret, 0);
		return 1;
	}
	encl->secs = sgx_cpu_frame_addr(cpu, first_frame);
	return 0;
}

/* EEXTEND of the chunks of one page that the layout measures (all 16 for
 * a measured page), in ascending order. */
static int build_extend(struct build_enclave *encl, uint8_t *epc, uint64_t offset,
			uint16_t chunks, struct build_status *st)
{
	for (unsigned int i = 0, c = 0; c < SGX_PAGE_SIZE; i++, c += SGX_EEXTEND_CHUNK) {
		int ret;

		if (!(chunks & (1U << i)))
			continue;
		ret = encls_eextend(encl->cpu, encl->secs, epc + c);

		if (ret) {
			build_fail(st, "EEXTEND", ret, offset + c);
			return 1;
		}
	}
	return 0;
}

int build_add_pages(struct build_enclave *encl, const struct sgx_layout *layout,
		    struct build_status *st)
{
	static _Alignas(SGX_PAGE_SIZE) _Thread_local uint8_t bounce[SGX_PAGE_SIZE];
	struct sgx_secinfo secinfo = { 0 };
	struct sgx_pageinfo pginfo = { 0 };
	uint16_t chunks;
	int ret;

	if (!encl->secs || layout->nr_pages != encl->nr_pages)
		return -EINVAL;
	pginfo.metadata = (uint64_t)(uintptr_t)&secinfo;
	pginfo.secs = (uint64_t)(uintptr_t)encl->secs;
	for (size_t i = encl->nr_added; i < layout->nr_pages; i++) {
		const struct sgx_layout_page *pg = &layout->pages[i];
		const uint8_t *src = pg->data ? pg->data : zero_page;
		uint8_t *epc = sgx_cpu_frame_addr(encl->cpu, encl->first_frame + 1 + i);

		/* EADD wants a page-aligned source, as the driver's bounce
		 * page is. */
		if ((uintptr_t)src & (SGX_PAGE_SIZE - 1)) {
			memcpy(bounce, src, SGX_PAGE_SIZE);
			src = bounce;
		}
		secinfo.flags = pg->secinfo_flags;
		pginfo.addr = encl->base + pg->offset;
		pginfo.contents = (uint64_t)(uintptr_t)src;
		ret = encls_eadd(encl->cpu, &pginfo, epc);
		if (ret) {
			build_fail(st, "EADD", ret, pg->offset);
			return 1;
		}
		encl->epc[i] = epc;
		encl->nr_added = i + 1;
		chunks = sgx_layout_page_chunks(pg);
		if (chunks && build_extend(encl, epc, pg->offset, chunks, st))
			return 1;
	}
	return 0;
}

/* IA32_SGXLEPUBKEYHASH0..3 := SHA-256(modulus), as sgx_update_lepubkeyhash(). */
static int build_write_lepubkeyhash(struct sgx_cpu *cpu, const uint8_t hash[32])
{
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v;
		int ret;

		memcpy(&v, hash + 8 * i, sizeof(v));
		ret = sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, v);
		if (ret)
			return ret;
	}
	return 0;
}

int build_init(struct build_enclave *encl, const struct sgx_sigstruct *sigstruct,
	       struct build_status *st)
{
	static _Alignas(SGX_PAGE_SIZE) _Thread_local struct sgx_sigstruct ss;
	static const struct sgx_einittoken token; /* VALID = 0 */
	const struct timespec pause = { 0, EINIT_SLEEP_MS * 1000000L };
	bool writable = sgx_cpu_config(encl->cpu)->lc_mode == SGX_LC_WRITABLE;
	uint8_t mrsigner[32];
	int ret = SGX_UNMASKED_EVENT;

	if (!encl->secs || encl->initialized)
		return -EINVAL;
	memcpy(&ss, sigstruct, sizeof(ss));
	sgx_sigstruct_mrsigner(&ss, mrsigner);
	for (int i = 0; i < EINIT_SLEEP_COUNT && ret == SGX_UNMASKED_EVENT; i++) {
		for (int j = 0; j < EINIT_SPIN_COUNT; j++) {
			/* The hash is per logical processor: write it on this
			 * thread right before each attempt. */
			if (writable) {
				ret = build_write_lepubkeyhash(encl->cpu, mrsigner);
				if (ret) {
					build_fail(st, "WRMSR", ret, 0);
					return 1;
				}
			}
			ret = encls_einit(encl->cpu, &ss, &token, encl->secs);
			if (ret != SGX_UNMASKED_EVENT)
				break;
		}
		if (ret == SGX_UNMASKED_EVENT)
			nanosleep(&pause, NULL);
	}
	if (ret) {
		build_fail(st, "EINIT", ret, 0);
		return 1;
	}
	encl->initialized = true;
	return 0;
}

int build_enclave(struct sgx_cpu *cpu, const struct sgx_layout *layout,
		  const struct sgx_sigstruct *sigstruct, uint64_t first_frame,
		  struct build_enclave *encl, struct build_status *st)
{
	int ret;

	ret = build_create(cpu, layout, sigstruct, first_frame, encl, st);
	if (ret)
		return ret;
	ret = build_add_pages(encl, layout, st);
	if (ret)
		return ret;
	return build_init(encl, sigstruct, st);
}

int build_remove(struct build_enclave *encl)
{
	int first = 0, ret;

	for (size_t i = encl->nr_added; i-- > 0;) {
		ret = encls_eremove(encl->cpu, encl->epc[i]);
		if (ret && !first)
			first = ret;
	}
	if (encl->secs) {
		ret = encls_eremove(encl->cpu, encl->secs);
		if (ret && !first)
			first = ret;
	}
	free(encl->epc);
	encl->epc = NULL;
	encl->secs = NULL;
	encl->nr_added = 0;
	encl->nr_pages = 0;
	encl->initialized = false;
	return first;
}
