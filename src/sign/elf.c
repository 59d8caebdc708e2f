/*
 * elf.c: the ELF enclave image loader.
 *
 * Turns an enclave ELF file into a layout (sign.h): the pages EADD adds, in
 * order, and the SECS fields ECREATE sees.  The image contract:
 *
 *   - ELF64, little-endian, x86-64, ET_DYN linked at 0: a segment's virtual
 *     address is its offset from the enclave base;
 *   - PT_LOAD segments in increasing address order, page aligned, disjoint;
 *   - the first PT_LOAD segment holds only TCS pages (a whole number of
 *     pages), added as TCS with no permission bits and measured;
 *   - every other PT_LOAD page is a REG page with the segment's permissions,
 *     measured; bytes past p_filesz are zero (bss) and measured too;
 *   - then opts->heap_pages unmeasured RW zero pages from the page after the
 *     last segment;
 *   - the enclave size is the smallest power of two >= max(end, 2 pages).
 *
 * The emulator does not relocate, so an image with dynamic relocations is
 * refused.  Every field read from the file is checked before it is used;
 * offsets and sizes are added with overflow checks.  Pages past the file's
 * bytes are NULL (zero) pages, and segments may not copy the same file
 * bytes twice (beyond a partial page each), so the memory a layout takes
 * is bounded by the file's size, not by p_memsz.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sgxemu/sign.h"
#include "sign/sign_internal.h"

/* An image spans at most 4 GiB, so at most 2^20 pages before the heap. */
#define ELF_MAX_SPAN (1ULL << 32)
#define ELF_MAX_PAGES (1ULL << 20)
/* Program headers we are willing to walk. */
#define ELF_MAX_PHNUM 4096

static inline uint64_t page_up(uint64_t x)
{
	return (x + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1);
}

static inline bool page_aligned(uint64_t x)
{
	return (x & (SGX_PAGE_SIZE - 1)) == 0;
}

/* A PT_LOAD segment after validation. */
struct elf_seg {
	uint64_t vaddr; /* page aligned */
	uint64_t end; /* page_up(vaddr + memsz) */
	uint64_t offset; /* file offset of the first byte */
	uint64_t filesz; /* bytes in the file, <= memsz */
	uint64_t flags; /* SECINFO flags of its pages */
};

static int elf_check_header(const uint8_t *buf, size_t len, Elf64_Ehdr *eh,
			    char *err, size_t errlen)
{
	if (len < sizeof(*eh))
		return sgx_sign_err(err, errlen, "truncated ELF header (Elf64_Ehdr): %zu of %zu bytes",
				    len, sizeof(*eh));
	memcpy(eh, buf, sizeof(*eh));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return sgx_sign_err(err, errlen, "not an ELF file (bad magic: e_ident[EI_MAG0..EI_MAG3] is not 7f 'E' 'L' 'F')");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return sgx_sign_err(err, errlen, "not ELF64: e_ident[EI_CLASS] is %u, not ELFCLASS64 (2)",
				    eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return sgx_sign_err(err, errlen,
				    "not little-endian: e_ident[EI_DATA] is %u, not ELFDATA2LSB (1)",
				    eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT)
		return sgx_sign_err(err, errlen,
				    "unknown ELF version: e_ident[EI_VERSION] is %u, not EV_CURRENT (1)",
				    eh->e_ident[EI_VERSION]);
	if (eh->e_version != EV_CURRENT)
		return sgx_sign_err(err, errlen, "unknown ELF version: e_version is %u, not EV_CURRENT (1)",
				    eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return sgx_sign_err(err, errlen, "not x86-64: e_machine is %u, not EM_X86_64 (62)",
				    eh->e_machine);
	if (eh->e_type != ET_DYN)
		return sgx_sign_err(err, errlen,
				    "e_type is %u, not ET_DYN (3): the enclave must be linked at 0",
				    eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return sgx_sign_err(err, errlen, "program header entry size e_phentsize is %u, not %zu (Elf64_Phdr)",
				    eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0)
		return sgx_sign_err(err, errlen, "no program headers (e_phnum is 0)");
	if (eh->e_phnum > ELF_MAX_PHNUM)
		return sgx_sign_err(err, errlen, "e_phnum is %u, more than the %u program headers taken",
				    eh->e_phnum, ELF_MAX_PHNUM);
	if (eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return sgx_sign_err(err, errlen,
				    "truncated program headers: e_phnum %u entries at e_phoff %#llx, file is %zu bytes",
				    eh->e_phnum, (unsigned long long)eh->e_phoff, len);
	return 0;
}

/* Refuses a PT_DYNAMIC that lists relocations of nonzero size.  Every
 * entry up to DT_NULL (or the segment's end) is read: a cap on the walk
 * would let a relocation hide past it.  The work is bounded by the file's
 * size, as the image has one PT_DYNAMIC (elf_scan()). */
static int elf_check_dynamic(const uint8_t *buf, size_t len, const Elf64_Phdr *ph,
			     char *err, size_t errlen)
{
	static const struct {
		int64_t table, size;
		const char *name;
	} rel[] = {
		{ DT_RELA, DT_RELASZ, "DT_RELA" },
		{ DT_REL, DT_RELSZ, "DT_REL" },
		{ DT_JMPREL, DT_PLTRELSZ, "DT_JMPREL" },
#ifdef DT_RELR
		{ DT_RELR, DT_RELRSZ, "DT_RELR" },
#else
		{ 36, 35, "DT_RELR" },
#endif
	};
	uint64_t n, i;
	size_t r;

	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return sgx_sign_err(err, errlen,
				    "PT_DYNAMIC at p_offset %#llx + p_filesz %#llx is beyond the end of the file (%zu bytes)",
				    (unsigned long long)ph->p_offset,
				    (unsigned long long)ph->p_filesz, len);
	n = ph->p_filesz / sizeof(Elf64_Dyn);
	for (i = 0; i < n; i++) {
		Elf64_Dyn d;

		memcpy(&d, buf + ph->p_offset + i * sizeof(d), sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		for (r = 0; r < sizeof(rel) / sizeof(rel[0]); r++) {
			if (d.d_tag == rel[r].size && d.d_un.d_val != 0)
				return sgx_sign_err(err, errlen,
						    "image has dynamic relocations (%s, %llu bytes): the emulator does not relocate; link without them",
						    rel[r].name,
						    (unsigned long long)d.d_un.d_val);
		}
	}
	return 0;
}

static uint64_t elf_perms(uint32_t p_flags)
{
	uint64_t perms = 0;

	if (p_flags & PF_R)
		perms |= SGX_SECINFO_R;
	if (p_flags & PF_W)
		perms |= SGX_SECINFO_W;
	if (p_flags & PF_X)
		perms |= SGX_SECINFO_X;
	return perms;
}

/* Validates PT_LOAD segment number idx (counting loads only) against the one
 * before it and fills seg. */
static int elf_check_load(size_t len, const Elf64_Phdr *ph, unsigned int idx,
			  const struct elf_seg *prev, struct elf_seg *seg,
			  char *err, size_t errlen)
{
	uint64_t end;

	if (ph->p_memsz == 0)
		return sgx_sign_err(err, errlen, "PT_LOAD segment %u is empty (p_memsz 0)", idx);
	if (!page_aligned(ph->p_vaddr))
		return sgx_sign_err(err, errlen,
				    "PT_LOAD segment %u: p_vaddr %#llx is not page aligned",
				    idx, (unsigned long long)ph->p_vaddr);
	if (ph->p_filesz > ph->p_memsz)
		return sgx_sign_err(err, errlen,
				    "PT_LOAD segment %u: p_filesz %#llx exceeds memory size p_memsz %#llx",
				    idx, (unsigned long long)ph->p_filesz,
				    (unsigned long long)ph->p_memsz);
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return sgx_sign_err(err, errlen,
				    "PT_LOAD segment %u: p_offset %#llx + p_filesz %#llx is beyond the end of the file (%zu bytes)",
				    idx, (unsigned long long)ph->p_offset,
				    (unsigned long long)ph->p_filesz, len);
	if (ph->p_vaddr >= ELF_MAX_SPAN || ph->p_memsz > ELF_MAX_SPAN - ph->p_vaddr)
		return sgx_sign_err(err, errlen,
				    "PT_LOAD segment %u: p_vaddr %#llx + p_memsz %#llx reaches past 4 GiB",
				    idx, (unsigned long long)ph->p_vaddr,
				    (unsigned long long)ph->p_memsz);
	end = page_up(ph->p_vaddr + ph->p_memsz);
	if (prev) {
		if (ph->p_vaddr < prev->vaddr)
			return sgx_sign_err(err, errlen,
					    "PT_LOAD segment %u at p_vaddr %#llx comes after one at %#llx: segments must be in increasing order",
					    idx, (unsigned long long)ph->p_vaddr,
					    (unsigned long long)prev->vaddr);
		if (ph->p_vaddr < prev->end)
			return sgx_sign_err(err, errlen,
					    "PT_LOAD segment %u at p_vaddr %#llx overlaps the page range of the one before (ends %#llx)",
					    idx, (unsigned long long)ph->p_vaddr,
					    (unsigned long long)prev->end);
	}
	seg->vaddr = ph->p_vaddr;
	seg->end = end;
	seg->offset = ph->p_offset;
	seg->filesz = ph->p_filesz;
	if (idx == 0) {
		if (!page_aligned(ph->p_memsz))
			return sgx_sign_err(err, errlen,
					    "first PT_LOAD segment (the TCS pages): p_memsz %#llx is not a whole number of pages",
					    (unsigned long long)ph->p_memsz);
		seg->flags = SGX_SECINFO_TCS;
	} else {
		uint64_t perms = elf_perms(ph->p_flags);

		if ((perms & SGX_SECINFO_W) && !(perms & SGX_SECINFO_R))
			return sgx_sign_err(err, errlen,
					    "PT_LOAD segment %u at %#llx: p_flags %#x is writable but not readable (PF_W without PF_R)",
					    idx, (unsigned long long)ph->p_vaddr, ph->p_flags);
		seg->flags = SGX_SECINFO_REG | perms;
	}
	return 0;
}

/* Bytes of the file that page [addr, addr+4096) of seg takes, 0 if none. */
static uint64_t elf_page_filebytes(const struct elf_seg *seg, uint64_t addr)
{
	uint64_t rel = addr - seg->vaddr;

	if (rel >= seg->filesz)
		return 0;
	return seg->filesz - rel < SGX_PAGE_SIZE ? seg->filesz - rel : SGX_PAGE_SIZE;
}

static uint64_t elf_size(uint64_t end)
{
	uint64_t size = 2 * SGX_PAGE_SIZE;

	while (size < end)
		size <<= 1;
	return size;
}

/* What the scan of the program headers found. */
struct elf_scan {
	struct elf_seg *segs; /* the PT_LOAD segments, in order */
	unsigned int nr_segs;
	uint64_t nr_pages; /* pages the segments span */
	uint64_t nr_data; /* pages that take file bytes */
};

/* Pass 1: validates every program header, collects the PT_LOAD segments
 * and counts their pages.  0 or -EINVAL/-ENOMEM; sc->segs is the caller's
 * to free either way. */
static int elf_scan(const uint8_t *buf, size_t len, const Elf64_Ehdr *eh, struct elf_scan *sc,
		    char *err, size_t errlen)
{
	bool dynamic = false;
	int ret;

	memset(sc, 0, sizeof(*sc));
	sc->segs = calloc(eh->e_phnum, sizeof(*sc->segs));
	if (!sc->segs)
		return -ENOMEM;
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		struct elf_seg *seg = &sc->segs[sc->nr_segs];
		Elf64_Phdr ph;

		memcpy(&ph, buf + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_DYNAMIC) {
			/* The ELF gABI allows one; more would multiply
			 * the walk of each by the number of headers. */
			if (dynamic)
				return sgx_sign_err(err, errlen,
						    "program header %u: a second PT_DYNAMIC (an image has at most one)",
						    i);
			dynamic = true;
			ret = elf_check_dynamic(buf, len, &ph, err, errlen);
			if (ret)
				return ret;
			continue;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		ret = elf_check_load(len, &ph, sc->nr_segs, sc->nr_segs ? seg - 1 : NULL, seg, err,
				     errlen);
		if (ret)
			return ret;
		sc->nr_pages += (seg->end - seg->vaddr) / SGX_PAGE_SIZE;
		sc->nr_data += page_up(seg->filesz) / SGX_PAGE_SIZE;
		sc->nr_segs++;
	}
	if (sc->nr_segs == 0)
		return sgx_sign_err(err, errlen, "no PT_LOAD segment (p_type 1) among the program headers");
	/* Segments whose file bytes are disjoint copy at most the file's
	 * pages plus a partial page each; segments that map the same bytes
	 * again and again would make a small file take up to 4 GiB. */
	if (sc->nr_data > page_up(len) / SGX_PAGE_SIZE + sc->nr_segs)
		return sgx_sign_err(err, errlen,
				    "PT_LOAD segments take %llu pages of file bytes from a file of %zu bytes: segments share file bytes",
				    (unsigned long long)sc->nr_data, len);
	return 0;
}

/* Pass 2: the pages, in address order, then heap unmeasured RW pages.
 * pages holds sc->nr_pages + heap entries, storage sc->nr_data pages. */
static void elf_fill(const uint8_t *buf, const struct elf_scan *sc, uint64_t heap,
		     struct sgx_layout_page *pages, uint8_t *storage)
{
	uint64_t addr;
	size_t n = 0, d = 0;

	for (unsigned int i = 0; i < sc->nr_segs; i++) {
		const struct elf_seg *seg = &sc->segs[i];

		for (addr = seg->vaddr; addr < seg->end; addr += SGX_PAGE_SIZE) {
			uint64_t bytes = elf_page_filebytes(seg, addr);
			struct sgx_layout_page *pg = &pages[n++];

			pg->offset = addr;
			pg->secinfo_flags = seg->flags;
			pg->measure = true;
			if (bytes) {
				uint8_t *dst = storage + (uint64_t)d++ * SGX_PAGE_SIZE;

				memcpy(dst, buf + seg->offset + (addr - seg->vaddr), bytes);
				memset(dst + bytes, 0, SGX_PAGE_SIZE - bytes);
				pg->data = dst;
			}
		}
	}
	addr = sc->segs[sc->nr_segs - 1].end;
	for (uint64_t p = 0; p < heap; p++, addr += SGX_PAGE_SIZE) {
		struct sgx_layout_page *pg = &pages[n++];

		pg->offset = addr;
		pg->secinfo_flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
		pg->measure = false;
	}
}

/* Phases: the header, the scan of the program headers (pass 1), the heap's
 * bound, the allocations, the pages (pass 2), the SECS fields. */
int sgx_load_elf(const uint8_t *buf, size_t len, const struct sgx_elf_options *opts,
		 struct sgx_layout *out, char *err, size_t errlen)
{
	struct sgx_elf_options dflt = { 0 };
	struct sgx_layout_page *pages = NULL;
	uint8_t *storage = NULL;
	struct elf_scan sc = { 0 };
	uint64_t end, heap, nr_pages;
	Elf64_Ehdr eh;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!buf || !out)
		return sgx_sign_err(err, errlen, "no image");
	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &dflt;

	ret = elf_check_header(buf, len, &eh, err, errlen);
	if (ret)
		return ret;
	ret = elf_scan(buf, len, &eh, &sc, err, errlen);
	if (ret)
		goto out_free_segs;

	/* The heap follows the last segment; the whole stays under 4 GiB. */
	end = sc.segs[sc.nr_segs - 1].end;
	heap = opts->heap_pages;
	if (heap > (ELF_MAX_SPAN - end) / SGX_PAGE_SIZE) {
		ret = sgx_sign_err(err, errlen,
				   "%llu heap pages after an image ending at %#llx reach past 4 GiB (at most %llu pages in all)",
				   (unsigned long long)heap, (unsigned long long)end,
				   (unsigned long long)ELF_MAX_PAGES);
		goto out_free_segs;
	}
	nr_pages = sc.nr_pages + heap;
	end += heap * SGX_PAGE_SIZE;

	pages = calloc(nr_pages, sizeof(*pages));
	if (!pages) {
		ret = -ENOMEM;
		goto out_free_segs;
	}
	if (sc.nr_data) {
		/* Page aligned, as EADD wants its source pages. */
		storage = aligned_alloc(SGX_PAGE_SIZE, sc.nr_data * SGX_PAGE_SIZE);
		if (!storage) {
			ret = -ENOMEM;
			goto out_free_pages;
		}
	}
	elf_fill(buf, &sc, heap, pages, storage);

	out->size = elf_size(end);
	out->ssa_frame_size = opts->ssa_frame_size ? opts->ssa_frame_size : 1;
	out->miscselect = opts->miscselect;
	out->attributes = opts->attributes ? opts->attributes : SGX_ATTR_MODE64BIT;
	out->xfrm = opts->xfrm ? opts->xfrm : SGX_XFRM_LEGACY;
	out->nr_pages = nr_pages;
	out->pages = pages;
	out->storage = storage;
	out->storage_size = sc.nr_data * SGX_PAGE_SIZE;
	free(sc.segs);
	return 0;

out_free_pages:
	free(pages);
out_free_segs:
	free(sc.segs);
	return ret;
}
