/*
 * va.c: an enclave's version-array pages.
 *
 * Every page written back leaves its version in a slot of one of its
 * enclave's VA pages until it is loaded again.  When VA pages are made and
 * freed is the core's VA policy (core.h):
 *
 *   kernel     as the kernel's sgx_encl_grow(): a VA page with the SECS
 *              (sgx_encl_create() grows first) and one more with every
 *              512th page added, so that there is a slot for every page
 *              the enclave has; all kept until release.  A page whose EADD
 *              fails takes the VA page it grew with it (sgx_encl_shrink()).
 *   on-demand  a VA page with the SECS; a write-back that takes the last
 *              free slot turns the frame it has just freed into the next
 *              one, and a VA page that empties is freed while the others
 *              keep ENCL_VA_FREE_KEEP free slots.
 *
 * Under either, a write-back never has to allocate an EPC page when none
 * may be free.
 *
 * encl->va_pages keeps the pages with free slots ahead of the full ones.
 * Every function here runs under encl->lock.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "epc/core_internal.h"

static void va_attach(struct sgx_encl *encl, struct sgx_va_page *va)
{
	list_add(&va->list, &encl->va_pages);
	encl->nr_va_pages++;
	encl->va_free_slots += SGX_VA_SLOT_COUNT;
	atomic_fetch_add_explicit(&encl->core->nr_va_pages, 1, memory_order_relaxed);
}

int encl_va_add_frame(struct sgx_encl *encl, struct sgx_epc_page *frame, struct sgx_va_page **out)
{
	struct sgx_core *core = encl->core;
	struct sgx_va_page *va;
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	va = calloc(1, sizeof(*va));
	if (!va)
		return -ENOMEM;
	ret = epc_epa(core->cpu, frame);
	if (ret) {
		free(va);
		return -EIO;
	}
	frame->owner = va;
	va->epc_page = frame;
	va_attach(encl, va);
	if (out)
		*out = va;
	return 0;
}

bool encl_va_grow_needed(const struct sgx_encl *encl)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	return encl->core->va_policy == SGX_VA_POLICY_KERNEL &&
	       encl->page_cnt % SGX_VA_SLOT_COUNT == 0;
}

int encl_va_alloc_slot(struct sgx_encl *encl, struct sgx_va_page **vap, uint16_t *offset)
{
	struct sgx_va_page *va;
	unsigned int w, bit;

	SGXEMU_ASSERT_HELD(&encl->lock);
	if (!encl->va_free_slots)
		return -ENOSPC;
	va = list_first_entry(&encl->va_pages, struct sgx_va_page, list);
	SGXEMU_ASSERT(va->nr_used < SGX_VA_SLOT_COUNT);
	for (w = 0; w < SGX_VA_SLOT_COUNT / 64; w++)
		if (~va->used[w])
			break;
	SGXEMU_ASSERT(w < SGX_VA_SLOT_COUNT / 64);
	bit = (unsigned int)__builtin_ctzll(~va->used[w]);
	va->used[w] |= 1ULL << bit;
	va->nr_used++;
	encl->va_free_slots--;
	atomic_fetch_add_explicit(&encl->core->nr_va_slots_used, 1, memory_order_relaxed);
	if (va->nr_used == SGX_VA_SLOT_COUNT)
		list_move_tail(&va->list, &encl->va_pages);
	*vap = va;
	*offset = (uint16_t)((w * 64 + bit) * SGX_VA_SLOT_SIZE);
	return 0;
}

void *encl_va_slot_addr(struct sgx_va_page *va, uint16_t offset)
{
	return (uint8_t *)encl_page_addr(va->epc_page) + offset;
}

static void va_remove(struct sgx_encl *encl, struct sgx_va_page *va)
{
	list_del(&va->list);
	encl->nr_va_pages--;
	encl->va_free_slots -= SGX_VA_SLOT_COUNT - va->nr_used;
	atomic_fetch_sub_explicit(&encl->core->nr_va_pages, 1, memory_order_relaxed);
	if (va->nr_used)
		atomic_fetch_sub_explicit(&encl->core->nr_va_slots_used, va->nr_used,
					  memory_order_relaxed);
	encl_free_epc_page(encl, va->epc_page);
	free(va);
}

void encl_va_remove(struct sgx_encl *encl, struct sgx_va_page *va)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(va->nr_used == 0);
	va_remove(encl, va);
}

void encl_va_free_slot(struct sgx_encl *encl, struct sgx_va_page *va, uint16_t offset)
{
	unsigned int slot = offset / SGX_VA_SLOT_SIZE;

	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(va->used[slot / 64] & (1ULL << (slot % 64)));
	va->used[slot / 64] &= ~(1ULL << (slot % 64));
	va->nr_used--;
	encl->va_free_slots++;
	atomic_fetch_sub_explicit(&encl->core->nr_va_slots_used, 1, memory_order_relaxed);
	if (va->nr_used == 0 && encl->core->va_policy == SGX_VA_POLICY_ON_DEMAND &&
	    encl->va_free_slots >= SGX_VA_SLOT_COUNT + ENCL_VA_FREE_KEEP) {
		va_remove(encl, va);
		return;
	}
	list_move(&va->list, &encl->va_pages);
}

void encl_va_retire(struct sgx_encl *encl, struct sgx_va_page *va)
{
	unsigned int n = SGX_VA_SLOT_COUNT - va->nr_used;

	SGXEMU_ASSERT_HELD(&encl->lock);
	if (!n)
		return;
	memset(va->used, 0xff, sizeof(va->used));
	va->nr_used = SGX_VA_SLOT_COUNT;
	encl->va_free_slots -= n;
	encl->nr_va_retired += n;
	atomic_fetch_add_explicit(&encl->core->nr_va_slots_used, n, memory_order_relaxed);
	list_move_tail(&va->list, &encl->va_pages);
}

void encl_va_free_all(struct sgx_encl *encl)
{
	struct sgx_va_page *va, *tmp;

	list_for_each_entry_safe(va, tmp, &encl->va_pages, list)
		va_remove(encl, va);
	SGXEMU_ASSERT(encl->nr_va_pages == 0 && encl->va_free_slots == 0);
}
