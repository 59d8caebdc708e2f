/*
 * measure.c: layouts and their MRENCLAVE.
 *
 * A layout is what ECREATE, EADD and EEXTEND saw.  This file checks that a
 * layout can be built (sgx_layout_validate) and replays the measurement the
 * processor accumulates while it is built (sgx_layout_measure): SHA-256
 * over one 64-byte ECREATE record, then for each page in EADD order one
 * EADD record and, for each measured 256-byte chunk, an EEXTEND record
 * followed by the chunk.  The records are the ones arch.h defines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sgxemu/sign.h"
#include "sign/sign_internal.h"

void sgx_layout_free(struct sgx_layout *layout)
{
	const uint8_t *storage = layout->storage;
	const uint8_t *pages = (const uint8_t *)layout->pages;

	/* A loader may carve the page array out of its storage block. */
	if (pages && !(storage && pages >= storage && pages < storage + layout->storage_size))
		free(layout->pages);
	free(layout->storage);
	memset(layout, 0, sizeof(*layout));
}

int sgx_sign_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The SECINFO flags EADD accepts (SDM, EADD: the SECINFO checks before
 * the page is copied, and the PT_REG case's W-without-R check). */
static int validate_page_flags(uint64_t flags, uint64_t offset, char *err, size_t errlen)
{
	uint64_t perm = flags & SGX_SECINFO_PERMISSION_MASK;
	uint64_t type = (flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;

	if (flags & ~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK)) {
		sgx_sign_err(err, errlen, "page at offset %#llx: SECINFO flags %#llx set reserved bits",
			     (unsigned long long)offset, (unsigned long long)flags);
		return -EINVAL;
	}
	if (type != SGX_PAGE_TYPE_TCS && type != SGX_PAGE_TYPE_REG) {
		sgx_sign_err(err, errlen, "page at offset %#llx: page type %llu is neither TCS nor REG",
			     (unsigned long long)offset, (unsigned long long)type);
		return -EINVAL;
	}
	/* A TCS may carry R, W or X: EADD clears them before it measures the
	 * SECINFO (sgx_secinfo_as_added()), so they change nothing. */
	if (type == SGX_PAGE_TYPE_REG && (perm & SGX_SECINFO_W) && !(perm & SGX_SECINFO_R)) {
		sgx_sign_err(err, errlen, "page at offset %#llx: writable but not readable",
			     (unsigned long long)offset);
		return -EINVAL;
	}
	return 0;
}

int sgx_layout_validate(const struct sgx_layout *layout, char *err, size_t errlen)
{
	uint64_t *offsets;
	size_t i;
	int ret;

	if (layout->size < 2 * SGX_PAGE_SIZE || (layout->size & (layout->size - 1))) {
		sgx_sign_err(err, errlen, "enclave size %#llx is not a power of two >= 8192",
			     (unsigned long long)layout->size);
		return -EINVAL;
	}
	if (layout->ssa_frame_size == 0) {
		sgx_sign_err(err, errlen, "SSA frame size is 0 pages");
		return -EINVAL;
	}
	if (layout->nr_pages > layout->size / SGX_PAGE_SIZE) {
		sgx_sign_err(err, errlen, "%zu pages do not fit in an enclave of %#llx bytes",
			     layout->nr_pages, (unsigned long long)layout->size);
		return -EINVAL;
	}
	if (layout->nr_pages && !layout->pages) {
		sgx_sign_err(err, errlen, "%zu pages but no page array", layout->nr_pages);
		return -EINVAL;
	}
	for (i = 0; i < layout->nr_pages; i++) {
		const struct sgx_layout_page *page = &layout->pages[i];

		if (page->offset & (SGX_PAGE_SIZE - 1)) {
			sgx_sign_err(err, errlen, "page %zu: offset %#llx is not page aligned", i,
				     (unsigned long long)page->offset);
			return -EINVAL;
		}
		if (page->offset >= layout->size) {
			sgx_sign_err(err, errlen, "page %zu: offset %#llx is outside the enclave (size %#llx)",
				     i, (unsigned long long)page->offset,
				     (unsigned long long)layout->size);
			return -EINVAL;
		}
		ret = validate_page_flags(page->secinfo_flags, page->offset, err, errlen);
		if (ret)
			return ret;
	}

	/* Uniqueness: sort a copy of the offsets, O(n log n). */
	if (layout->nr_pages < 2)
		return 0;
	offsets = malloc(layout->nr_pages * sizeof(*offsets));
	if (!offsets)
		return -ENOMEM;
	for (i = 0; i < layout->nr_pages; i++)
		offsets[i] = layout->pages[i].offset;
	qsort(offsets, layout->nr_pages, sizeof(*offsets), cmp_u64);
	ret = 0;
	for (i = 1; i < layout->nr_pages; i++) {
		if (offsets[i] == offsets[i - 1]) {
			sgx_sign_err(err, errlen, "page at offset %#llx is added twice",
				     (unsigned long long)offsets[i]);
			ret = -EINVAL;
			break;
		}
	}
	free(offsets);
	return ret;
}

void sgx_meas_ecreate_record(const struct sgx_layout *layout, struct sgx_meas_ecreate *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->tag = SGX_MEAS_TAG_ECREATE;
	rec->ssa_frame_size = layout->ssa_frame_size;
	rec->size = layout->size;
}

/*
 * SDM, EADD, "For TCS pages, force EPCM.rwx bits to 0 and no debug
 * access": before it extends MRENCLAVE, EADD clears R, W and X of a TCS's
 * SECINFO, and in the copy it has made in the EPC it clears the TCS's
 * FLAGS.DBGOPTIN, CSSA, AEP and STATE.  The first is what the EADD record
 * holds; the second is what a later EEXTEND of the page's first chunk
 * reads.
 */
uint64_t sgx_secinfo_as_added(uint64_t flags)
{
	uint64_t type = (flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;

	if (type == SGX_PAGE_TYPE_TCS)
		flags &= ~SGX_SECINFO_PERMISSION_MASK;
	return flags;
}

const uint8_t *sgx_chunk_as_added(uint64_t flags, unsigned int chunk, const uint8_t *data,
				  uint8_t scratch[SGX_EEXTEND_CHUNK])
{
	uint64_t type = (flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;
	struct sgx_tcs tcs;

	_Static_assert(offsetof(struct sgx_tcs, exit_addr) + 8 <= SGX_EEXTEND_CHUNK,
		       "the fields EADD clears are in a TCS's first chunk");
	if (type != SGX_PAGE_TYPE_TCS || chunk != 0 || !data)
		return data;
	memcpy(&tcs, data, SGX_EEXTEND_CHUNK);
	tcs.state = 0;
	tcs.flags &= ~SGX_TCS_DBGOPTIN;
	tcs.ssa_index = 0; /* CSSA */
	tcs.exit_addr = 0; /* AEP */
	memcpy(scratch, &tcs, SGX_EEXTEND_CHUNK);
	return scratch;
}

void sgx_meas_eadd_record(const struct sgx_layout_page *page, struct sgx_meas_eadd *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->tag = SGX_MEAS_TAG_EADD;
	rec->offset = page->offset;
	rec->secinfo_flags = sgx_secinfo_as_added(page->secinfo_flags);
}

void sgx_meas_eextend_record(uint64_t offset, uint64_t tag, struct sgx_meas_eextend *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->tag = tag;
	rec->offset = offset;
}

int sgx_layout_measure(const struct sgx_layout *layout, uint8_t mrenclave[32])
{
	static const uint8_t zero_chunk[SGX_EEXTEND_CHUNK];
	uint8_t scratch[SGX_EEXTEND_CHUNK];
	struct sgx_meas_ecreate ecreate;
	struct sgx_meas_eadd eadd;
	struct sgx_meas_eextend eextend;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ret;

	ret = sgx_layout_validate(layout, NULL, 0);
	if (ret)
		return ret;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ret = -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out_free_ctx;

	sgx_meas_ecreate_record(layout, &ecreate);
	if (!EVP_DigestUpdate(ctx, &ecreate, sizeof(ecreate)))
		goto out_free_ctx;
	for (size_t i = 0; i < layout->nr_pages; i++) {
		const struct sgx_layout_page *page = &layout->pages[i];
		uint16_t chunks = sgx_layout_page_chunks(page);

		sgx_meas_eadd_record(page, &eadd);
		if (!EVP_DigestUpdate(ctx, &eadd, sizeof(eadd)))
			goto out_free_ctx;
		for (unsigned int c = 0; c < SGX_PAGE_SIZE / SGX_EEXTEND_CHUNK; c++) {
			const uint8_t *data = zero_chunk;

			if (!(chunks & (1U << c)))
				continue;
			if (page->data)
				data = sgx_chunk_as_added(page->secinfo_flags, c,
							  page->data + c * SGX_EEXTEND_CHUNK,
							  scratch);
			sgx_meas_eextend_record(page->offset + c * SGX_EEXTEND_CHUNK,
						SGX_MEAS_TAG_EEXTEND, &eextend);
			if (!EVP_DigestUpdate(ctx, &eextend, sizeof(eextend)) ||
			    !EVP_DigestUpdate(ctx, data, SGX_EEXTEND_CHUNK))
				goto out_free_ctx;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, mrenclave, &mdlen) || mdlen != 32)
		goto out_free_ctx;
	ret = 0;
out_free_ctx:
	EVP_MD_CTX_free(ctx);
	return ret;
}
