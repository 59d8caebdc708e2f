/*
 * fuzz_elf.c: libFuzzer target for the ELF enclave loader (sgx_load_elf).
 *
 * Any input must be either refused with -EINVAL and a message, or turned
 * into a layout that keeps the image contract: pages in increasing address
 * order inside a power-of-two size, TCS pages first and without
 * permissions, no REG page writable without being readable, and a layout
 * that sgx_layout_validate() accepts.
 */
#include <errno.h>
#include <stdlib.h>

#include "sgxemu/sign.h"

static void check_layout(const struct sgx_layout *l, uint64_t heap)
{
	uint64_t prev_end = 0;
	bool seen_reg = false;
	size_t i;

	/* What the loader accepts, the builder must accept too.  (Its sort
	 * is skipped for huge layouts to keep the fuzzer fast; the ordering
	 * check below covers uniqueness for those.) */
	if (l->nr_pages <= (1U << 16) && sgx_layout_validate(l, NULL, 0))
		abort();
	if (l->size < 2 * SGX_PAGE_SIZE || (l->size & (l->size - 1)))
		abort();
	if (l->size > (1ULL << 32) || l->nr_pages == 0 || l->nr_pages > (1ULL << 20))
		abort();
	if (l->pages[0].secinfo_flags != SGX_SECINFO_TCS)
		abort();
	for (i = 0; i < l->nr_pages; i++) {
		const struct sgx_layout_page *pg = &l->pages[i];
		uint64_t type = pg->secinfo_flags >> SGX_SECINFO_PAGE_TYPE_SHIFT;

		if (pg->offset & (SGX_PAGE_SIZE - 1))
			abort();
		if (i && pg->offset < prev_end)
			abort();
		if (pg->offset >= l->size)
			abort();
		prev_end = pg->offset + SGX_PAGE_SIZE;
		if (type == SGX_PAGE_TYPE_TCS) {
			if (seen_reg || pg->secinfo_flags != SGX_SECINFO_TCS || !pg->measure)
				abort();
		} else if (type == SGX_PAGE_TYPE_REG) {
			seen_reg = true;
			if ((pg->secinfo_flags & SGX_SECINFO_W) &&
			    !(pg->secinfo_flags & SGX_SECINFO_R))
				abort();
		} else {
			abort();
		}
		/* Touch every byte so ASan sees a bad pointer. */
		if (pg->data) {
			volatile uint8_t sum = 0;

			for (size_t b = 0; b < SGX_PAGE_SIZE; b++)
				sum += pg->data[b];
			(void)sum;
		}
	}
	/* The heap pages are the last ones, unmeasured. */
	for (i = l->nr_pages - heap; i < l->nr_pages; i++)
		if (l->pages[i].measure || l->pages[i].data)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgx_elf_options opts = { 0 };
	struct sgx_layout layout;
	char err[256];
	int ret;

	/* The last byte, when there is one, picks a small heap. */
	if (size)
		opts.heap_pages = data[size - 1] & 7;
	ret = sgx_load_elf(data, size, &opts, &layout, err, sizeof(err));
	if (ret == 0) {
		check_layout(&layout, opts.heap_pages);
		sgx_layout_free(&layout);
	} else if (ret != -EINVAL && ret != -ENOMEM) {
		abort();
	} else if (ret == -EINVAL && err[0] == '\0') {
		abort();
	}
	return 0;
}
