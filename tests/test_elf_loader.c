/*
 * test_elf_loader.c: the ELF enclave loader (src/sign/elf.c) against
 * hand-built images: what it accepts becomes the layout the image contract
 * promises (TCS first, REG pages with the segment's permissions, bss and
 * heap as zero pages, size a power of two); what breaks the contract is
 * refused with -EINVAL and a message naming the problem.
 */
#include <elf.h>
#include <errno.h>

#include "harness.h"
#include "sgxemu/sign.h"

#define PAGE 4096
#define MAX_PH 8

/* An image under construction: header, program headers, then payload. */
struct img {
	uint8_t buf[64 * PAGE];
	size_t len;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static void img_init(struct img *im)
{
	memset(im, 0, sizeof(*im));
	im->eh = (Elf64_Ehdr *)im->buf;
	im->ph = (Elf64_Phdr *)(im->buf + sizeof(Elf64_Ehdr));
	memcpy(im->eh->e_ident, ELFMAG, SELFMAG);
	im->eh->e_ident[EI_CLASS] = ELFCLASS64;
	im->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh->e_ident[EI_VERSION] = EV_CURRENT;
	im->eh->e_type = ET_DYN;
	im->eh->e_machine = EM_X86_64;
	im->eh->e_version = EV_CURRENT;
	im->eh->e_phoff = sizeof(Elf64_Ehdr);
	im->eh->e_phentsize = sizeof(Elf64_Phdr);
	im->eh->e_ehsize = sizeof(Elf64_Ehdr);
	/* Payload starts on the first page boundary after the headers. */
	im->len = PAGE;
}

/* Adds a program header whose file bytes are filesz bytes of fill appended
 * to the payload. */
static Elf64_Phdr *img_seg(struct img *im, uint32_t type, uint32_t flags, uint64_t vaddr,
			   uint64_t filesz, uint64_t memsz, uint8_t fill)
{
	Elf64_Phdr *ph = &im->ph[im->eh->e_phnum++];

	CHECK(im->eh->e_phnum <= MAX_PH);
	CHECK(im->len + filesz <= sizeof(im->buf));
	ph->p_type = type;
	ph->p_flags = flags;
	ph->p_offset = im->len;
	ph->p_vaddr = vaddr;
	ph->p_paddr = vaddr;
	ph->p_filesz = filesz;
	ph->p_memsz = memsz;
	ph->p_align = PAGE;
	memset(im->buf + im->len, fill, filesz);
	im->len += filesz;
	return ph;
}

/* The standard image: one TCS page, a text page, data with bss. */
static void img_standard(struct img *im)
{
	img_init(im);
	img_seg(im, PT_LOAD, PF_R | PF_W, 0, PAGE, PAGE, 0x11);
	img_seg(im, PT_LOAD, PF_R | PF_X, 0x1000, 100, 100, 0x22);
	img_seg(im, PT_LOAD, PF_R | PF_W, 0x2000, 0x1800, 0x3000, 0x33);
}

/* Loads an image; whatever is accepted must also pass the builder's own
 * check of a layout. */
static int load(struct img *im, const struct sgx_elf_options *opts, struct sgx_layout *l,
		char *err, size_t errlen)
{
	char verr[256] = "";
	int ret = sgx_load_elf(im->buf, im->len, opts, l, err, errlen);

	if (ret == 0)
		CHECK_MSG(sgx_layout_validate(l, verr, sizeof(verr)) == 0,
			  "accepted layout fails sgx_layout_validate: %s", verr);
	return ret;
}

/* Expects -EINVAL and a message that contains word. */
static void expect_reject(struct img *im, const struct sgx_elf_options *opts, const char *word)
{
	struct sgx_layout l;
	char err[256];
	int ret;

	memset(&l, 0xA5, sizeof(l));
	ret = load(im, opts, &l, err, sizeof(err));
	CHECK_MSG(ret == -EINVAL, "load returned %d, want -EINVAL (message \"%s\")", ret, err);
	CHECK_MSG(strstr(err, word) != NULL, "message \"%s\" does not name \"%s\"", err, word);
	/* A refused image leaves nothing to free. */
	CHECK(l.pages == NULL && l.storage == NULL && l.nr_pages == 0);
	sgx_layout_free(&l);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* A page's bytes as EADD will see them (NULL data is a zero page). */
static const uint8_t *page_bytes(const struct sgx_layout_page *pg)
{
	static const uint8_t zero[PAGE];

	return pg->data ? pg->data : zero;
}

TEST(standard_image_layout)
{
	struct img im;
	struct sgx_layout l;
	char err[256];

	img_standard(&im);
	CHECK_EQ(load(&im, NULL, &l, err, sizeof(err)), 0);
	/* TCS, text, 3 data pages (2 from the file, 1 bss). */
	CHECK_EQ(l.nr_pages, 5);
	CHECK_EQ(l.size, 8 * PAGE);
	CHECK_EQ(l.ssa_frame_size, 1);
	CHECK_EQ(l.attributes, SGX_ATTR_MODE64BIT);
	CHECK_EQ(l.xfrm, SGX_XFRM_LEGACY);
	CHECK_EQ(l.miscselect, 0);

	CHECK_EQ(l.pages[0].offset, 0);
	CHECK_EQ(l.pages[0].secinfo_flags, SGX_SECINFO_TCS);
	CHECK(l.pages[0].measure);
	CHECK(all_bytes(page_bytes(&l.pages[0]), PAGE, 0x11));

	CHECK_EQ(l.pages[1].offset, 0x1000);
	CHECK_EQ(l.pages[1].secinfo_flags, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X);
	CHECK(l.pages[1].measure);
	CHECK(all_bytes(page_bytes(&l.pages[1]), 100, 0x22));
	CHECK(all_bytes(page_bytes(&l.pages[1]) + 100, PAGE - 100, 0));

	for (int i = 2; i < 5; i++) {
		CHECK_EQ(l.pages[i].offset, 0x2000 + (i - 2) * PAGE);
		CHECK_EQ(l.pages[i].secinfo_flags,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
		CHECK_MSG(l.pages[i].measure, "bss page %d must be measured", i);
	}
	CHECK(all_bytes(page_bytes(&l.pages[2]), PAGE, 0x33));
	CHECK(all_bytes(page_bytes(&l.pages[3]), 0x800, 0x33));
	CHECK(all_bytes(page_bytes(&l.pages[3]) + 0x800, 0x800, 0));
	CHECK(all_bytes(page_bytes(&l.pages[4]), PAGE, 0));
	sgx_layout_free(&l);
}

TEST(heap_pages_follow_image_unmeasured)
{
	struct img im;
	struct sgx_layout l;
	struct sgx_elf_options o = { .heap_pages = 4 };
	char err[256];

	img_standard(&im);
	CHECK_EQ(load(&im, &o, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_pages, 9);
	/* Image ends at 0x5000, heap to 0x9000: size 64 KiB. */
	CHECK_EQ(l.size, 16 * PAGE);
	for (int i = 5; i < 9; i++) {
		CHECK_EQ(l.pages[i].offset, 0x5000 + (i - 5) * PAGE);
		CHECK_EQ(l.pages[i].secinfo_flags,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
		CHECK_MSG(!l.pages[i].measure, "heap page %d must not be measured", i);
		CHECK(all_bytes(page_bytes(&l.pages[i]), PAGE, 0));
	}
	sgx_layout_free(&l);
}

TEST(size_is_power_of_two_at_least_two_pages)
{
	struct img im;
	struct sgx_layout l;
	struct sgx_elf_options o = { 0 };
	char err[256];

	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0, PAGE, PAGE, 0);
	CHECK_EQ(load(&im, NULL, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_pages, 1);
	CHECK_EQ(l.size, 2 * PAGE);
	sgx_layout_free(&l);

	/* Exactly a power of two stays; one page more doubles it. */
	o.heap_pages = 3;
	CHECK_EQ(load(&im, &o, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.size, 4 * PAGE);
	sgx_layout_free(&l);
	o.heap_pages = 4;
	CHECK_EQ(load(&im, &o, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.size, 8 * PAGE);
	sgx_layout_free(&l);
}

TEST(options_reach_the_layout)
{
	struct img im;
	struct sgx_layout l;
	struct sgx_elf_options o = {
		.ssa_frame_size = 3,
		.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG,
		.xfrm = 7,
		.miscselect = 1,
	};
	char err[256];

	img_standard(&im);
	CHECK_EQ(load(&im, &o, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.ssa_frame_size, 3);
	CHECK_EQ(l.attributes, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG);
	CHECK_EQ(l.xfrm, 7);
	CHECK_EQ(l.miscselect, 1);
	sgx_layout_free(&l);
}

TEST(several_tcs_pages_and_gaps)
{
	struct img im;
	struct sgx_layout l;
	char err[256];

	img_init(&im);
	img_seg(&im, PT_LOAD, PF_R, 0, 2 * PAGE, 3 * PAGE, 0x44);
	/* A gap of two pages, then an execute-only page (allowed). */
	img_seg(&im, PT_LOAD, PF_X, 5 * PAGE, 16, PAGE, 0x55);
	CHECK_EQ(load(&im, NULL, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_pages, 4);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(l.pages[i].offset, i * PAGE);
		CHECK_EQ(l.pages[i].secinfo_flags, SGX_SECINFO_TCS);
	}
	CHECK(all_bytes(page_bytes(&l.pages[2]), PAGE, 0));
	CHECK_EQ(l.pages[3].offset, 5 * PAGE);
	CHECK_EQ(l.pages[3].secinfo_flags, SGX_SECINFO_REG | SGX_SECINFO_X);
	CHECK_EQ(l.size, 8 * PAGE);
	sgx_layout_free(&l);
}

TEST(other_program_headers_are_ignored)
{
	struct img im;
	struct sgx_layout l;
	char err[256];

	img_init(&im);
	img_seg(&im, PT_NOTE, PF_R, 0x1234, 8, 8, 0);
	img_seg(&im, PT_LOAD, PF_R | PF_W, 0, PAGE, PAGE, 0);
	img_seg(&im, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0);
	img_seg(&im, PT_LOAD, PF_R, PAGE, 8, 8, 1);
	CHECK_EQ(load(&im, NULL, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_pages, 2);
	sgx_layout_free(&l);
}

/* A PT_DYNAMIC holding the given tag/value pairs, then DT_NULL. */
static void img_dynamic(struct img *im, const int64_t *tags, const uint64_t *vals, int n)
{
	Elf64_Dyn dyn[8];

	memset(dyn, 0, sizeof(dyn));
	for (int i = 0; i < n; i++) {
		dyn[i].d_tag = tags[i];
		dyn[i].d_un.d_val = vals[i];
	}
	Elf64_Phdr *ph = img_seg(im, PT_DYNAMIC, PF_R | PF_W, 0x1000,
				 (n + 1) * sizeof(Elf64_Dyn), (n + 1) * sizeof(Elf64_Dyn), 0);
	memcpy(im->buf + ph->p_offset, dyn, (n + 1) * sizeof(Elf64_Dyn));
}

TEST(dynamic_without_relocations_is_accepted)
{
	struct img im;
	struct sgx_layout l;
	char err[256];
	int64_t tags[] = { DT_RELA, DT_RELASZ, DT_RELAENT, DT_FLAGS_1 };
	uint64_t vals[] = { 0x1000, 0, sizeof(Elf64_Rela), DF_1_PIE };

	img_standard(&im);
	img_dynamic(&im, tags, vals, 4);
	CHECK_EQ(load(&im, NULL, &l, err, sizeof(err)), 0);
	sgx_layout_free(&l);
}

TEST(dynamic_relocations_are_refused)
{
	struct img im;
	int64_t tags[][2] = {
		{ DT_RELA, DT_RELASZ },
		{ DT_REL, DT_RELSZ },
		{ DT_JMPREL, DT_PLTRELSZ },
	};

	for (int i = 0; i < 3; i++) {
		uint64_t vals[] = { 0x1000, 24 };

		img_standard(&im);
		img_dynamic(&im, tags[i], vals, 2);
		expect_reject(&im, NULL, "relocat");
	}
}

/* The standard image with a PT_DYNAMIC of n entries, the last a relocation
 * table's size (DT_RELASZ 24), entries before it DT_DEBUG 0, no DT_NULL
 * before the end; in a buffer of its own, since n may pass img's. */
static uint8_t *img_long_dynamic(size_t n, size_t *lenp)
{
	struct img im;
	Elf64_Dyn debug = { .d_tag = DT_DEBUG }, rela = { .d_tag = DT_RELASZ, .d_un.d_val = 24 };
	Elf64_Phdr *ph;
	uint8_t *buf;
	size_t len;

	img_standard(&im);
	ph = img_seg(&im, PT_DYNAMIC, PF_R | PF_W, 0x1000, 0, 0, 0);
	ph->p_filesz = ph->p_memsz = n * sizeof(Elf64_Dyn);
	len = im.len + n * sizeof(Elf64_Dyn);
	buf = calloc(1, len);
	CHECK(buf != NULL);
	memcpy(buf, im.buf, im.len);
	/* The entries need not be aligned in the file: copied, not cast. */
	for (size_t i = 0; i + 1 < n; i++)
		memcpy(buf + im.len + i * sizeof(debug), &debug, sizeof(debug));
	memcpy(buf + im.len + (n - 1) * sizeof(rela), &rela, sizeof(rela));
	*lenp = len;
	return buf;
}

/* A relocation is refused wherever it sits in PT_DYNAMIC: the walk has no
 * cap past which entries go unread. */
TEST(dynamic_relocation_past_entry_65536_is_refused)
{
	static const size_t counts[] = { 2, 65536, 65537, 200000 };

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct sgx_layout l;
		char err[256] = "";
		size_t len;
		uint8_t *buf = img_long_dynamic(counts[i], &len);
		int ret = sgx_load_elf(buf, len, NULL, &l, err, sizeof(err));

		free(buf);
		if (ret == 0)
			sgx_layout_free(&l);
		CHECK_MSG(ret == -EINVAL, "DT_RELASZ at entry %zu: load returned %d, want -EINVAL",
			  counts[i], ret);
		CHECK_MSG(strstr(err, "DT_RELA") && strstr(err, "relocat"),
			  "DT_RELASZ at entry %zu: message \"%s\" does not name DT_RELA", counts[i],
			  err);
	}
}

TEST(second_dynamic_is_refused)
{
	struct img im;
	int64_t tags[] = { DT_DEBUG };
	uint64_t vals[] = { 0 };

	img_standard(&im);
	img_dynamic(&im, tags, vals, 1);
	img_dynamic(&im, tags, vals, 1);
	expect_reject(&im, NULL, "second PT_DYNAMIC");
}

TEST(truncated_dynamic_is_refused)
{
	struct img im;
	Elf64_Phdr *ph;

	img_standard(&im);
	ph = img_seg(&im, PT_DYNAMIC, PF_R, 0x1000, 16, 16, 0);
	ph->p_filesz = 1 << 20;
	expect_reject(&im, NULL, "PT_DYNAMIC");
}

TEST(bad_headers_are_refused)
{
	struct img im;

	img_standard(&im);
	im.buf[0] = 0x7e;
	expect_reject(&im, NULL, "magic");

	img_standard(&im);
	im.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&im, NULL, "ELF64");

	img_standard(&im);
	im.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(&im, NULL, "little-endian");

	img_standard(&im);
	im.eh->e_machine = EM_386;
	expect_reject(&im, NULL, "x86-64");

	img_standard(&im);
	im.eh->e_type = ET_EXEC;
	expect_reject(&im, NULL, "ET_DYN");

	img_standard(&im);
	im.eh->e_phentsize = 32;
	expect_reject(&im, NULL, "entry size");

	img_init(&im);
	expect_reject(&im, NULL, "no program headers");

	img_init(&im);
	img_seg(&im, PT_NOTE, PF_R, 0, 8, 8, 0);
	expect_reject(&im, NULL, "no PT_LOAD");
}

/* Each refusal names the ELF field that broke the contract, with its
 * value. */
TEST(refusals_name_the_field)
{
	struct img im;

	img_standard(&im);
	im.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&im, NULL, "e_ident[EI_CLASS] is 1");
	img_standard(&im);
	im.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(&im, NULL, "e_ident[EI_DATA] is 2");
	img_standard(&im);
	im.eh->e_ident[EI_VERSION] = 7;
	expect_reject(&im, NULL, "e_ident[EI_VERSION] is 7");
	img_standard(&im);
	im.eh->e_version = 9;
	expect_reject(&im, NULL, "e_version is 9");
	img_standard(&im);
	im.eh->e_machine = EM_386;
	expect_reject(&im, NULL, "e_machine is 3");
	img_standard(&im);
	im.eh->e_type = ET_EXEC;
	expect_reject(&im, NULL, "e_type is 2");
	img_standard(&im);
	im.eh->e_phentsize = 32;
	expect_reject(&im, NULL, "e_phentsize is 32");
	img_standard(&im);
	im.eh->e_phoff = 1 << 20;
	expect_reject(&im, NULL, "e_phoff 0x100000");
	img_standard(&im);
	im.ph[1].p_vaddr = 0x1800;
	expect_reject(&im, NULL, "p_vaddr 0x1800");
	img_standard(&im);
	im.ph[1].p_filesz = 0x1000 * 40;
	expect_reject(&im, NULL, "p_filesz 0x28000");
	img_standard(&im);
	im.ph[2].p_flags = PF_W;
	expect_reject(&im, NULL, "p_flags 0x2");
	img_standard(&im);
	im.ph[0].p_memsz = 100;
	im.ph[0].p_filesz = 100;
	expect_reject(&im, NULL, "p_memsz 0x64");
}

TEST(truncated_images_are_refused)
{
	struct img im;
	size_t full;

	img_standard(&im);
	full = im.len;
	/* Every prefix shorter than the header or the program headers. */
	for (size_t len = 0; len < sizeof(Elf64_Ehdr); len += 7) {
		im.len = len;
		expect_reject(&im, NULL, "truncated ELF header");
	}
	for (size_t len = sizeof(Elf64_Ehdr);
	     len < sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr); len += 13) {
		im.len = len;
		expect_reject(&im, NULL, "truncated program headers");
	}
	/* Cut inside the last segment's file bytes. */
	im.len = full - 1;
	expect_reject(&im, NULL, "beyond the end of the file");

	/* A program header table that points past the end. */
	img_standard(&im);
	im.eh->e_phoff = ~0ULL - 8;
	expect_reject(&im, NULL, "truncated program headers");
}

TEST(segment_outside_file_is_refused)
{
	struct img im;

	img_standard(&im);
	im.ph[1].p_offset = ~0ULL - 10;
	expect_reject(&im, NULL, "beyond the end of the file");

	img_standard(&im);
	im.ph[2].p_filesz = ~0ULL;
	im.ph[2].p_memsz = ~0ULL;
	expect_reject(&im, NULL, "beyond the end of the file");

	img_standard(&im);
	im.ph[1].p_filesz = 200; /* more than memsz */
	expect_reject(&im, NULL, "exceeds memory size");
}

TEST(overlapping_or_unordered_segments_are_refused)
{
	struct img im;

	/* The text page shares a page with the data segment's start. */
	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0, PAGE, PAGE, 0);
	img_seg(&im, PT_LOAD, PF_R | PF_X, 0x1000, 100, 0x1001, 0);
	img_seg(&im, PT_LOAD, PF_R | PF_W, 0x2000, 8, 8, 0);
	expect_reject(&im, NULL, "overlaps");

	/* The same address twice. */
	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0, PAGE, PAGE, 0);
	img_seg(&im, PT_LOAD, PF_R, 0x1000, 8, 8, 0);
	img_seg(&im, PT_LOAD, PF_R, 0x1000, 8, 8, 0);
	expect_reject(&im, NULL, "overlaps");

	/* Decreasing order. */
	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0x1000, PAGE, PAGE, 0);
	img_seg(&im, PT_LOAD, PF_R, 0, 8, 8, 0);
	expect_reject(&im, NULL, "increasing order");
}

TEST(segments_sharing_file_bytes_are_refused)
{
	struct img im;
	Elf64_Phdr *data;

	/* Seven segments that all copy the same 16 pages of the file: a
	 * small file must not turn into many times its size of storage. */
	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0, PAGE, PAGE, 0);
	data = img_seg(&im, PT_LOAD, PF_R, 0x1000, 16 * PAGE, 16 * PAGE, 0x44);
	for (int i = 1; i < 7; i++) {
		Elf64_Phdr *ph = &im.ph[im.eh->e_phnum++];

		*ph = *data;
		ph->p_vaddr = ph->p_paddr = 0x1000 + (uint64_t)i * 16 * PAGE;
	}
	expect_reject(&im, NULL, "share file bytes");

	/* Two segments that share one page at their boundary load. */
	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0, PAGE, PAGE, 0);
	data = img_seg(&im, PT_LOAD, PF_R, 0x1000, 2 * PAGE, 2 * PAGE, 0x44);
	img_seg(&im, PT_LOAD, PF_R | PF_W, 0x3000, PAGE, PAGE, 0x55);
	im.ph[2].p_offset = data->p_offset + PAGE;
	{
		struct sgx_layout l;
		char err[256] = "";

		CHECK_MSG(load(&im, NULL, &l, err, sizeof(err)) == 0, "%s", err);
		CHECK_EQ(l.nr_pages, 4);
		sgx_layout_free(&l);
	}
}

TEST(unaligned_or_empty_segments_are_refused)
{
	struct img im;

	img_standard(&im);
	im.ph[1].p_vaddr = 0x1010;
	expect_reject(&im, NULL, "not page aligned");

	img_standard(&im);
	im.ph[2].p_memsz = 0;
	im.ph[2].p_filesz = 0;
	expect_reject(&im, NULL, "empty");
}

TEST(write_without_read_is_refused)
{
	struct img im;

	img_standard(&im);
	im.ph[2].p_flags = PF_W;
	expect_reject(&im, NULL, "writable but not readable");

	img_standard(&im);
	im.ph[2].p_flags = PF_W | PF_X;
	expect_reject(&im, NULL, "writable but not readable");
}

TEST(first_segment_must_be_whole_pages)
{
	struct img im;

	img_init(&im);
	img_seg(&im, PT_LOAD, 0, 0, 100, 100, 0);
	img_seg(&im, PT_LOAD, PF_R, 0x1000, 8, 8, 0);
	expect_reject(&im, NULL, "TCS");
}

TEST(images_beyond_four_gib_are_refused)
{
	struct img im;
	struct sgx_layout l;
	struct sgx_elf_options o = { 0 };
	char err[256];

	img_standard(&im);
	im.ph[2].p_memsz = 1ULL << 32;
	expect_reject(&im, NULL, "4 GiB");

	img_standard(&im);
	im.ph[2].p_vaddr = 1ULL << 32;
	expect_reject(&im, NULL, "4 GiB");

	img_standard(&im);
	im.ph[2].p_vaddr = 0xFFFFFFFFFFFFF000ULL;
	expect_reject(&im, NULL, "4 GiB");

	/* Heap that would cross 4 GiB (2^20 pages in all). */
	img_standard(&im);
	o.heap_pages = (1ULL << 20) - 5 + 1;
	expect_reject(&im, &o, "4 GiB");
	o.heap_pages = ~0ULL;
	expect_reject(&im, &o, "4 GiB");

	/* The largest heap that fits: exactly 4 GiB, with zero pages only. */
	o.heap_pages = (1ULL << 20) - 5;
	CHECK_EQ(load(&im, &o, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_pages, 1ULL << 20);
	CHECK_EQ(l.size, 1ULL << 32);
	/* Only the pages with file bytes take storage. */
	CHECK_LE(l.storage_size, 4 * PAGE);
	sgx_layout_free(&l);
}

TEST(null_error_buffer_is_allowed)
{
	struct img im;
	struct sgx_layout l;

	img_standard(&im);
	im.eh->e_type = ET_EXEC;
	CHECK_EQ(sgx_load_elf(im.buf, im.len, NULL, &l, NULL, 0), -EINVAL);
	sgx_layout_free(&l);
}
