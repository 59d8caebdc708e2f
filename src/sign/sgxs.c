/*
 * sgxs.c: SGXS streams and enclave image files.
 *
 * An SGXS stream is the measurement itself written out: the 64-byte
 * records MRENCLAVE hashes (ECREATE, EADD, EEXTEND, the last one followed
 * by the 256 bytes it measures), so that SHA-256 of a plain stream is the
 * enclave's MRENCLAVE.  The enhanced format adds UNMEASRD records, shaped
 * like EEXTEND, for chunks that are loaded but not measured.
 *
 * The reader accepts the streams that describe a layout: one ECREATE
 * first; EADD of page-aligned offsets; EEXTEND/UNMEASRD of 256-aligned
 * chunks of the page added last, measured ones in ascending order, none
 * twice; reserved bytes zero; nothing truncated.  It walks the stream
 * twice: once to check it and count pages, once to fill the layout, so
 * that what it allocates is bounded by what the stream holds (one page of
 * storage per page that carries data, which takes at least 320 bytes of
 * stream).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgxemu/sign.h"
#include "sign/sign_internal.h"

#define SGXS_RECORD 64
#define SGXS_CHUNKS (SGX_PAGE_SIZE / SGX_EEXTEND_CHUNK)
/* Largest image file sgx_load_image() reads. */
#define SGX_IMAGE_MAX ((size_t)1 << 30)

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const char *tag_name(uint64_t tag)
{
	switch (tag) {
	case SGX_MEAS_TAG_ECREATE:
		return "ECREATE";
	case SGX_MEAS_TAG_EADD:
		return "EADD";
	case SGX_MEAS_TAG_EEXTEND:
		return "EEXTEND";
	case SGXS_TAG_UNMEASRD:
		return "UNMEASRD";
	default:
		return "unknown";
	}
}

/* One record of the stream. */
struct sgxs_rec {
	uint64_t tag;
	size_t pos; /* byte offset of the record in the stream */
	const uint8_t *hdr; /* its 64 bytes */
	const uint8_t *data; /* 256 bytes for EEXTEND and UNMEASRD, else NULL */
};

/*
 * Reads the record at *pos and advances past it.  1 if a record was read,
 * 0 at the end of the stream, -EINVAL (err says why) for a truncated
 * record, an unknown tag or reserved bytes that are not zero.
 */
static int sgxs_next(const uint8_t *buf, size_t len, size_t *pos, struct sgxs_rec *rec,
		     char *err, size_t errlen)
{
	size_t left = len - *pos, reserved_from;

	if (left == 0)
		return 0;
	if (left < SGXS_RECORD) {
		sgx_sign_err(err, errlen, "truncated stream: %zu stray bytes at byte %zu (records are 64 bytes)",
			     left, *pos);
		return -EINVAL;
	}
	rec->pos = *pos;
	rec->hdr = buf + *pos;
	rec->tag = get_u64(rec->hdr);
	rec->data = NULL;
	switch (rec->tag) {
	case SGX_MEAS_TAG_ECREATE:
		reserved_from = offsetof(struct sgx_meas_ecreate, reserved);
		break;
	case SGX_MEAS_TAG_EADD:
		reserved_from = offsetof(struct sgx_meas_eadd, reserved);
		break;
	case SGX_MEAS_TAG_EEXTEND:
	case SGXS_TAG_UNMEASRD:
		reserved_from = offsetof(struct sgx_meas_eextend, reserved);
		if (left < SGXS_RECORD + SGX_EEXTEND_CHUNK) {
			sgx_sign_err(err, errlen,
				     "truncated stream: %s record at byte %zu has %zu of its 256 data bytes",
				     tag_name(rec->tag), *pos, left - SGXS_RECORD);
			return -EINVAL;
		}
		rec->data = rec->hdr + SGXS_RECORD;
		break;
	default:
		sgx_sign_err(err, errlen, "unknown record tag %#018llx at byte %zu",
			     (unsigned long long)rec->tag, *pos);
		return -EINVAL;
	}
	if (!all_zero(rec->hdr + reserved_from, SGXS_RECORD - reserved_from)) {
		sgx_sign_err(err, errlen, "%s record at byte %zu has reserved bytes that are not zero",
			     tag_name(rec->tag), *pos);
		return -EINVAL;
	}
	*pos += SGXS_RECORD + (rec->data ? SGX_EEXTEND_CHUNK : 0);
	return 1;
}

/* Where the walk is: the page added last and its chunks so far. */
struct sgxs_walk {
	size_t nr_pages; /* EADD records so far */
	size_t nr_data_pages; /* pages with at least one chunk of data */
	bool in_page;
	uint64_t page_offset;
	uint16_t seen; /* chunks given, measured or not */
	uint16_t measured; /* chunks EEXTENDed */
	int last_measured; /* highest chunk EEXTENDed, -1 if none */
};

/* Checks a chunk record against the page added last; returns its index. */
static int sgxs_chunk(struct sgxs_walk *w, const struct sgxs_rec *rec, char *err, size_t errlen)
{
	uint64_t offset = get_u64(rec->hdr + offsetof(struct sgx_meas_eextend, offset));
	bool measured = rec->tag == SGX_MEAS_TAG_EEXTEND;
	unsigned int chunk;

	if (offset & (SGX_EEXTEND_CHUNK - 1)) {
		sgx_sign_err(err, errlen, "%s record at byte %zu: offset %#llx is not 256-byte aligned",
			     tag_name(rec->tag), rec->pos, (unsigned long long)offset);
		return -EINVAL;
	}
	if (!w->in_page) {
		sgx_sign_err(err, errlen, "%s record at byte %zu: offset %#llx is in no page added",
			     tag_name(rec->tag), rec->pos, (unsigned long long)offset);
		return -EINVAL;
	}
	if ((offset & ~(SGX_PAGE_SIZE - 1)) != w->page_offset) {
		sgx_sign_err(err, errlen,
			     "%s record at byte %zu: offset %#llx is not in the page last added (%#llx)",
			     tag_name(rec->tag), rec->pos, (unsigned long long)offset,
			     (unsigned long long)w->page_offset);
		return -EINVAL;
	}
	chunk = (offset & (SGX_PAGE_SIZE - 1)) / SGX_EEXTEND_CHUNK;
	if (w->seen & (1U << chunk)) {
		sgx_sign_err(err, errlen, "%s record at byte %zu: chunk at offset %#llx is given twice",
			     tag_name(rec->tag), rec->pos, (unsigned long long)offset);
		return -EINVAL;
	}
	if (measured && (int)chunk < w->last_measured) {
		sgx_sign_err(err, errlen,
			     "EEXTEND record at byte %zu: chunk at offset %#llx comes after a higher chunk of its page",
			     rec->pos, (unsigned long long)offset);
		return -EINVAL;
	}
	if (!w->seen)
		w->nr_data_pages++;
	w->seen |= 1U << chunk;
	if (measured) {
		w->measured |= 1U << chunk;
		w->last_measured = chunk;
	}
	return chunk;
}

/*
 * Walks the stream.  With out->pages NULL it only checks the stream and
 * counts into w; otherwise it fills out->pages and out->storage, which
 * hold as many pages as the counting walk found.
 */
static int sgxs_walk(const uint8_t *buf, size_t len, struct sgx_layout *out,
		     struct sgxs_walk *w, char *err, size_t errlen)
{
	struct sgx_layout_page *page = NULL;
	uint8_t *storage = out->storage;
	struct sgxs_rec rec;
	size_t pos = 0;
	int ret, chunk;

	memset(w, 0, sizeof(*w));
	w->last_measured = -1;
	ret = sgxs_next(buf, len, &pos, &rec, err, errlen);
	if (ret == 0) {
		sgx_sign_err(err, errlen, "empty stream: no ECREATE record");
		return -EINVAL;
	}
	if (ret < 0)
		return ret;
	if (rec.tag != SGX_MEAS_TAG_ECREATE) {
		sgx_sign_err(err, errlen, "stream starts with a %s record, not ECREATE", tag_name(rec.tag));
		return -EINVAL;
	}
	out->ssa_frame_size = get_u32(rec.hdr + offsetof(struct sgx_meas_ecreate, ssa_frame_size));
	out->size = get_u64(rec.hdr + offsetof(struct sgx_meas_ecreate, size));

	while ((ret = sgxs_next(buf, len, &pos, &rec, err, errlen)) > 0) {
		switch (rec.tag) {
		case SGX_MEAS_TAG_ECREATE:
			sgx_sign_err(err, errlen, "second ECREATE record at byte %zu", rec.pos);
			return -EINVAL;
		case SGX_MEAS_TAG_EADD:
			w->in_page = true;
			w->page_offset = get_u64(rec.hdr + offsetof(struct sgx_meas_eadd, offset));
			w->seen = w->measured = 0;
			w->last_measured = -1;
			if (w->page_offset & (SGX_PAGE_SIZE - 1)) {
				sgx_sign_err(err, errlen, "EADD record at byte %zu: offset %#llx is not page aligned",
					     rec.pos, (unsigned long long)w->page_offset);
				return -EINVAL;
			}
			if (out->pages) {
				page = &out->pages[w->nr_pages];
				page->offset = w->page_offset;
				page->secinfo_flags =
					get_u64(rec.hdr + offsetof(struct sgx_meas_eadd, secinfo_flags));
			}
			w->nr_pages++;
			break;
		default: /* EEXTEND, UNMEASRD */
			chunk = sgxs_chunk(w, &rec, err, errlen);
			if (chunk < 0)
				return chunk;
			if (!page)
				break;
			if (!page->data) {
				page->data = storage;
				storage += SGX_PAGE_SIZE;
			}
			memcpy((uint8_t *)page->data + chunk * SGX_EEXTEND_CHUNK, rec.data,
			       SGX_EEXTEND_CHUNK);
			page->chunk_mask = w->measured;
			page->measure = w->measured == 0xFFFF;
			break;
		}
	}
	return ret;
}

int sgx_load_sgxs(const uint8_t *buf, size_t len, struct sgx_layout *out, char *err,
		  size_t errlen)
{
	struct sgxs_walk w;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!buf && len) {
		sgx_sign_err(err, errlen, "no stream");
		return -EINVAL;
	}
	ret = sgxs_walk(buf, len, out, &w, err, errlen);
	if (ret)
		goto out_free;
	/* Bounds: nr_pages <= len / 64 and nr_data_pages <= len / 320. */
	if (w.nr_pages) {
		out->pages = calloc(w.nr_pages, sizeof(*out->pages));
		if (!out->pages) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	if (w.nr_data_pages) {
		out->storage_size = w.nr_data_pages * SGX_PAGE_SIZE;
		out->storage = calloc(w.nr_data_pages, SGX_PAGE_SIZE);
		if (!out->storage) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	out->nr_pages = w.nr_pages;
	if (w.nr_pages) {
		ret = sgxs_walk(buf, len, out, &w, err, errlen);
		if (ret)
			goto out_free;
	}
	ret = sgx_layout_validate(out, err, errlen);
	if (ret)
		goto out_free;
	return 0;
out_free:
	sgx_layout_free(out);
	return ret;
}

int sgx_layout_to_sgxs(const struct sgx_layout *layout, uint8_t **bufp, size_t *lenp)
{
	const size_t chunk_rec = SGXS_RECORD + SGX_EEXTEND_CHUNK;
	uint8_t scratch[SGX_EEXTEND_CHUNK];
	struct sgx_meas_ecreate ecreate;
	struct sgx_meas_eadd eadd;
	struct sgx_meas_eextend eextend;
	size_t len = SGXS_RECORD, pos = 0;
	uint8_t *buf;
	int ret;

	ret = sgx_layout_validate(layout, NULL, 0);
	if (ret)
		return ret;
	if (layout->nr_pages > (SIZE_MAX - SGXS_RECORD) / (SGXS_RECORD + SGXS_CHUNKS * chunk_rec))
		return -ENOMEM;

	/* Which chunks get a record: measured ones, and loaded ones with data. */
	for (size_t i = 0; i < layout->nr_pages; i++) {
		const struct sgx_layout_page *page = &layout->pages[i];
		uint16_t chunks = sgx_layout_page_chunks(page);

		len += SGXS_RECORD;
		for (unsigned int c = 0; c < SGXS_CHUNKS; c++) {
			const uint8_t *data = page->data ? page->data + c * SGX_EEXTEND_CHUNK : NULL;

			data = sgx_chunk_as_added(page->secinfo_flags, c, data, scratch);
			if ((chunks & (1U << c)) || (data && !all_zero(data, SGX_EEXTEND_CHUNK)))
				len += chunk_rec;
		}
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;

	sgx_meas_ecreate_record(layout, &ecreate);
	memcpy(buf, &ecreate, SGXS_RECORD);
	pos = SGXS_RECORD;
	for (size_t i = 0; i < layout->nr_pages; i++) {
		const struct sgx_layout_page *page = &layout->pages[i];
		uint16_t chunks = sgx_layout_page_chunks(page);

		sgx_meas_eadd_record(page, &eadd);
		memcpy(buf + pos, &eadd, SGXS_RECORD);
		pos += SGXS_RECORD;
		for (unsigned int c = 0; c < SGXS_CHUNKS; c++) {
			const uint8_t *data = page->data ? page->data + c * SGX_EEXTEND_CHUNK : NULL;
			uint64_t tag;

			/* The stream holds the page as EADD leaves it in the EPC. */
			data = sgx_chunk_as_added(page->secinfo_flags, c, data, scratch);

			if (chunks & (1U << c))
				tag = SGX_MEAS_TAG_EEXTEND;
			else if (data && !all_zero(data, SGX_EEXTEND_CHUNK))
				tag = SGXS_TAG_UNMEASRD;
			else
				continue;
			sgx_meas_eextend_record(page->offset + c * SGX_EEXTEND_CHUNK, tag, &eextend);
			memcpy(buf + pos, &eextend, SGXS_RECORD);
			if (data)
				memcpy(buf + pos + SGXS_RECORD, data, SGX_EEXTEND_CHUNK);
			else
				memset(buf + pos + SGXS_RECORD, 0, SGX_EEXTEND_CHUNK);
			pos += chunk_rec;
		}
	}
	*bufp = buf;
	*lenp = pos;
	return 0;
}

int sgx_read_file(const char *path, size_t max, uint8_t **bufp, size_t *lenp, char *err,
		  size_t errlen)
{
	struct stat st;
	size_t len = 0;
	uint8_t *buf;
	int fd, ret;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer before it is
	 * refused; reads of a regular file ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		sgx_sign_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		sgx_sign_err(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		sgx_sign_err(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		sgx_sign_err(err, errlen, "%s: not a regular file", path);
		goto out_close;
	}
	if ((unsigned long long)st.st_size > max) {
		ret = -EFBIG;
		sgx_sign_err(err, errlen, "%s: %lld bytes, more than the %zu allowed", path,
			     (long long)st.st_size, max);
		goto out_close;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		ret = -ENOMEM;
		sgx_sign_err(err, errlen, "%s: %s", path, strerror(-ret));
		goto out_close;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			sgx_sign_err(err, errlen, "%s: %s", path, strerror(-ret));
			goto out_free_buf;
		}
		if (n == 0)
			break; /* the file shrank: take what is there */
		len += n;
	}
	*bufp = buf;
	*lenp = len;
	close(fd);
	return 0;

out_free_buf:
	free(buf);
out_close:
	close(fd);
	return ret;
}

int sgx_load_image(const char *path, const struct sgx_elf_options *opts,
		   struct sgx_layout *out, char *err, size_t errlen)
{
	static const uint8_t elf_magic[4] = { 0x7F, 'E', 'L', 'F' };
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = sgx_read_file(path, SGX_IMAGE_MAX, &buf, &len, err, errlen);
	if (ret)
		return ret;
	if (len >= sizeof(elf_magic) && !memcmp(buf, elf_magic, sizeof(elf_magic)))
		ret = sgx_load_elf(buf, len, opts, out, err, errlen);
	else if (len >= sizeof(uint64_t) && get_u64(buf) == SGX_MEAS_TAG_ECREATE)
		ret = sgx_load_sgxs(buf, len, out, err, errlen);
	else {
		sgx_sign_err(err, errlen, "%s: not an ELF enclave or SGXS stream", path);
		ret = -EINVAL;
	}
	free(buf);
	return ret;
}
