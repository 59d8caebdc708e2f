/*
 * fuzz_sgxs.c: libFuzzer target for the SGXS reader (sgx_load_sgxs).
 *
 * Any input must be either refused with -EINVAL, a message and nothing
 * left allocated, or turned into a layout that sgx_layout_validate()
 * accepts, that measures, and that survives a round trip through
 * sgx_layout_to_sgxs() with the same MRENCLAVE.  The stream written holds
 * the pages as EADD leaves them (a TCS without R, W, X, and with STATE,
 * FLAGS.DBGOPTIN, CSSA and AEP cleared), so it is canonical: written again
 * it is the same bytes and loads into the same pages, and when it has no
 * UNMEASRD record its SHA-256 is MRENCLAVE (the SGXS format's defining
 * property).  An input stream is canonical only if it already holds its
 * TCS pages as EADD leaves them; then its own SHA-256 is MRENCLAVE too.
 *
 *   fuzz_sgxs -max_len=20000 CORPUS_DIR tests/vectors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sgxemu/sign.h"

static bool has_unmeasured(const uint8_t *data, size_t size)
{
	for (size_t pos = 0; pos + 64 <= size;) {
		uint64_t tag;

		memcpy(&tag, data + pos, 8);
		if (tag == SGXS_TAG_UNMEASRD)
			return true;
		pos += 64 + (tag == SGX_MEAS_TAG_EEXTEND ? 256 : 0);
	}
	return false;
}

static void same_pages(const struct sgx_layout *a, const struct sgx_layout *b)
{
	static const uint8_t zero[SGX_PAGE_SIZE];

	if (a->size != b->size || a->ssa_frame_size != b->ssa_frame_size ||
	    a->nr_pages != b->nr_pages)
		abort();
	for (size_t i = 0; i < a->nr_pages; i++) {
		const struct sgx_layout_page *p = &a->pages[i], *q = &b->pages[i];

		if (p->offset != q->offset || p->secinfo_flags != q->secinfo_flags ||
		    sgx_layout_page_chunks(p) != sgx_layout_page_chunks(q) ||
		    memcmp(p->data ? p->data : zero, q->data ? q->data : zero, SGX_PAGE_SIZE))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mr[32], mr2[32], *buf, *buf2;
	struct sgx_layout l, back, back2;
	size_t len2;
	char err[256] = "";
	unsigned int hlen = 32;
	size_t len;
	int ret;

	ret = sgx_load_sgxs(data, size, &l, err, sizeof(err));
	if (ret) {
		if (ret != -EINVAL || !err[0] || l.pages || l.storage || l.nr_pages)
			abort();
		return 0;
	}
	if (sgx_layout_validate(&l, NULL, 0) || sgx_layout_measure(&l, mr))
		abort();
	if (sgx_layout_to_sgxs(&l, &buf, &len))
		abort();
	if (sgx_load_sgxs(buf, len, &back, err, sizeof(err)))
		abort();
	if (sgx_layout_measure(&back, mr2) || memcmp(mr, mr2, 32))
		abort();
	if (!has_unmeasured(buf, len)) {
		if (!EVP_Digest(buf, len, mr2, &hlen, EVP_sha256(), NULL) || memcmp(mr, mr2, 32))
			abort();
	}
	if (len == size && !memcmp(buf, data, size)) {
		if (!has_unmeasured(data, size) &&
		    (!EVP_Digest(data, size, mr2, &hlen, EVP_sha256(), NULL) || memcmp(mr, mr2, 32)))
			abort();
	}
	/* Canonical: written again, the same bytes and the same pages. */
	if (sgx_layout_to_sgxs(&back, &buf2, &len2))
		abort();
	if (len2 != len || memcmp(buf, buf2, len))
		abort();
	if (sgx_load_sgxs(buf2, len2, &back2, err, sizeof(err)))
		abort();
	same_pages(&back, &back2);
	free(buf2);
	sgx_layout_free(&back2);
	free(buf);
	sgx_layout_free(&back);
	sgx_layout_free(&l);
	return 0;
}
