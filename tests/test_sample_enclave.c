/*
 * test_sample_enclave.c: the built sample enclave against its contract.
 *
 * Two halves.  The first reads the ELF file with a small reader of its own
 * and checks the layout the loader relies on (enclave/README.md): ET_DYN,
 * no relocations, page-aligned contiguous PT_LOADs with the TCS pages
 * first, every TCS field pointing where it should, the exported symbols.
 * The second maps the image into this process and runs it natively, with
 * EENTER replaced by a jump and ENCLU (EEXIT, EREPORT, EGETKEY) carried out
 * by a SIGILL handler, to check the entry ABI: registers in and out, the
 * stack switch, both TCSs, the exception-handler entry, every operation
 * and every fault kind.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "sgxemu/arch.h"
#include "../enclave/sample_abi.h"

/* --- A minimal ELF64 reader --------------------------------------------- */

#define ELF_MAX_FILE (16u << 20)

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} __attribute__((packed));

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
} __attribute__((packed));

struct elf64_shdr {
	uint32_t name, type;
	uint64_t flags, addr, offset, size;
	uint32_t link, info;
	uint64_t addralign, entsize;
} __attribute__((packed));

struct elf64_sym {
	uint32_t name;
	uint8_t info, other;
	uint16_t shndx;
	uint64_t value, size;
} __attribute__((packed));

_Static_assert(sizeof(struct elf64_ehdr) == 64, "Elf64_Ehdr");
_Static_assert(sizeof(struct elf64_phdr) == 56, "Elf64_Phdr");
_Static_assert(sizeof(struct elf64_shdr) == 64, "Elf64_Shdr");
_Static_assert(sizeof(struct elf64_sym) == 24, "Elf64_Sym");

#define ET_DYN 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define SHT_SYMTAB 2
#define SHT_RELA 4
#define SHT_DYNAMIC 6
#define SHT_REL 9
#define SHT_DYNSYM 11
#define SHT_RELR 19

#define MAX_PHDRS 16
#define PAGE SAMPLE_PAGE_SIZE

struct image {
	uint8_t *buf;
	size_t size;
	struct elf64_ehdr eh;
	struct elf64_phdr load[MAX_PHDRS]; /* PT_LOAD only, in file order */
	unsigned int nr_load;
	struct elf64_phdr all[MAX_PHDRS];
	unsigned int nr_phdrs;
};

/* [off, off + len) lies inside the file. */
static bool in_file(const struct image *im, uint64_t off, uint64_t len)
{
	return off <= im->size && len <= im->size - off;
}

static void image_read(struct image *im)
{
	int fd = open(SGXEMU_SAMPLE_ENCLAVE, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	memset(im, 0, sizeof(*im));
	CHECK_MSG(fd >= 0, "open %s: %s", SGXEMU_SAMPLE_ENCLAVE, strerror(errno));
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_GE(st.st_size, (long long)sizeof(struct elf64_ehdr));
	CHECK_LE(st.st_size, ELF_MAX_FILE);
	im->size = (size_t)st.st_size;
	im->buf = malloc(im->size);
	CHECK(im->buf != NULL);
	n = pread(fd, im->buf, im->size, 0);
	CHECK_EQ(n, (long long)im->size);
	close(fd);

	memcpy(&im->eh, im->buf, sizeof(im->eh));
	CHECK_EQ(im->eh.phentsize, sizeof(struct elf64_phdr));
	CHECK_LE(im->eh.phnum, MAX_PHDRS);
	CHECK(in_file(im, im->eh.phoff, (uint64_t)im->eh.phnum * sizeof(struct elf64_phdr)));
	im->nr_phdrs = im->eh.phnum;
	for (unsigned int i = 0; i < im->nr_phdrs; i++) {
		memcpy(&im->all[i], im->buf + im->eh.phoff + i * sizeof(struct elf64_phdr),
		       sizeof(struct elf64_phdr));
		if (im->all[i].type == PT_LOAD)
			im->load[im->nr_load++] = im->all[i];
	}
}

static struct elf64_shdr image_shdr(const struct image *im, unsigned int i)
{
	struct elf64_shdr sh;

	CHECK_EQ(im->eh.shentsize, sizeof(struct elf64_shdr));
	CHECK_LT(i, im->eh.shnum);
	CHECK(in_file(im, im->eh.shoff + (uint64_t)i * sizeof(sh), sizeof(sh)));
	memcpy(&sh, im->buf + im->eh.shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
	return sh;
}

/* Value of a symbol in .symtab (local or global); fails the case if it is
 * missing. */
static uint64_t image_sym(const struct image *im, const char *name)
{
	for (unsigned int i = 0; i < im->eh.shnum; i++) {
		struct elf64_shdr sh = image_shdr(im, i), strsh;

		if (sh.type != SHT_SYMTAB)
			continue;
		CHECK(in_file(im, sh.offset, sh.size));
		strsh = image_shdr(im, sh.link);
		CHECK(in_file(im, strsh.offset, strsh.size));
		for (uint64_t off = 0; off + sizeof(struct elf64_sym) <= sh.size;
		     off += sizeof(struct elf64_sym)) {
			struct elf64_sym sym;
			const char *s;

			memcpy(&sym, im->buf + sh.offset + off, sizeof(sym));
			if (sym.name >= strsh.size)
				continue;
			s = (const char *)im->buf + strsh.offset + sym.name;
			if (strnlen(s, strsh.size - sym.name) < strsh.size - sym.name &&
			    strcmp(s, name) == 0)
				return sym.value;
		}
	}
	harness_fail(__FILE__, __LINE__, "symbol %s not in .symtab", name);
}

/* The PT_LOAD holding [addr, addr + len), or NULL. */
static const struct elf64_phdr *image_seg(const struct image *im, uint64_t addr, uint64_t len)
{
	for (unsigned int i = 0; i < im->nr_load; i++) {
		const struct elf64_phdr *ph = &im->load[i];

		if (addr >= ph->vaddr && len <= ph->memsz &&
		    addr - ph->vaddr <= ph->memsz - len)
			return ph;
	}
	return NULL;
}

/* --- The layout contract ------------------------------------------------ */

TEST(elf_header)
{
	struct image im;
	static const uint8_t magic[] = { 0x7f, 'E', 'L', 'F', 2 /* 64-bit */,
					 1 /* little-endian */, 1 /* version */ };

	image_read(&im);
	CHECK_MEM(im.eh.ident, magic, sizeof(magic));
	CHECK_EQ(im.eh.type, ET_DYN);
	CHECK_EQ(im.eh.machine, EM_X86_64);
	CHECK_EQ(im.eh.entry, image_sym(&im, "enclave_entry"));
	free(im.buf);
}

TEST(no_dynamic_relocations)
{
	struct image im;

	image_read(&im);
	for (unsigned int i = 0; i < im.eh.shnum; i++) {
		struct elf64_shdr sh = image_shdr(&im, i);

		if (sh.type == SHT_RELA || sh.type == SHT_REL || sh.type == SHT_RELR)
			CHECK_MSG(sh.size == 0, "section %u: relocation section of %llu bytes",
				  i, (unsigned long long)sh.size);
		CHECK_MSG(sh.type != SHT_DYNAMIC && sh.type != SHT_DYNSYM,
			  "section %u: dynamic-linking section (type %u)", i, sh.type);
	}
	for (unsigned int i = 0; i < im.nr_phdrs; i++)
		CHECK_MSG(im.all[i].type != PT_DYNAMIC && im.all[i].type != PT_INTERP,
			  "program header %u has type %u", i, im.all[i].type);
	free(im.buf);
}

TEST(segments_page_aligned_in_order_contiguous)
{
	struct image im;
	uint64_t next = 0;

	image_read(&im);
	CHECK_GE(im.nr_load, 5);
	for (unsigned int i = 0; i < im.nr_load; i++) {
		const struct elf64_phdr *ph = &im.load[i];

		CHECK_EQ(ph->align, PAGE);
		CHECK_EQ(ph->vaddr % PAGE, 0);
		CHECK_EQ(ph->offset % PAGE, 0);
		CHECK_EQ(ph->memsz % PAGE, 0);
		CHECK_GT(ph->memsz, 0);
		CHECK_LE(ph->filesz, ph->memsz);
		CHECK(in_file(&im, ph->offset, ph->filesz));
		CHECK_EQ(ph->vaddr, next); /* in order, no gap, no overlap */
		CHECK_MSG((ph->flags & (PF_W | PF_X)) != (PF_W | PF_X),
			  "segment %u is writable and executable", i);
		CHECK(ph->flags & PF_R);
		next = ph->vaddr + ph->memsz;
	}
	CHECK_EQ(next, image_sym(&im, "__enclave_end"));
	free(im.buf);
}

TEST(first_segment_is_exactly_the_tcs_pages)
{
	struct image im;
	const struct elf64_phdr *ph;

	image_read(&im);
	ph = &im.load[0];
	CHECK_EQ(image_sym(&im, "__tcs_start"), 0);
	CHECK_EQ(image_sym(&im, "__tcs_end"), SAMPLE_NR_TCS * PAGE);
	CHECK_EQ(ph->vaddr, 0);
	CHECK_EQ(ph->memsz, SAMPLE_NR_TCS * PAGE);
	CHECK_EQ(ph->filesz, ph->memsz);
	CHECK_EQ(ph->flags, PF_R | PF_W);
	/* Nothing else in the image is a TCS: the next segment starts after. */
	CHECK_EQ(im.load[1].vaddr, image_sym(&im, "__tcs_end"));
	free(im.buf);
}

TEST(tcs_fields)
{
	struct image im;
	uint64_t entry, tcs_end, ssa_start, tcb_start, stack_start;
	const struct elf64_phdr *text;

	image_read(&im);
	entry = image_sym(&im, "enclave_entry");
	tcs_end = image_sym(&im, "__tcs_end");
	ssa_start = image_sym(&im, "__ssa_start");
	tcb_start = image_sym(&im, "__tcb_start");
	stack_start = image_sym(&im, "__stack_start");
	text = image_seg(&im, entry, 1);
	CHECK(text != NULL);
	CHECK_EQ(text->flags, PF_R | PF_X);

	for (unsigned int i = 0; i < SAMPLE_NR_TCS; i++) {
		const struct elf64_phdr *tcsseg = &im.load[0], *seg;
		struct sgx_tcs tcs;
		uint64_t ssa_len = (uint64_t)SAMPLE_NSSA * SAMPLE_SSA_FRAME_PAGES * PAGE;

		CHECK(in_file(&im, tcsseg->offset + i * PAGE, PAGE));
		memcpy(&tcs, im.buf + tcsseg->offset + i * PAGE, sizeof(tcs));
		CHECK_EQ(tcs.state, 0);
		CHECK_EQ(tcs.flags, 0);
		CHECK_EQ(tcs.ssa_index, 0);
		CHECK_EQ(tcs.nr_ssa_frames, SAMPLE_NSSA);
		CHECK_EQ(tcs.entry_offset, entry);
		CHECK_EQ(tcs.exit_addr, 0);
		CHECK_EQ(tcs.fs_limit, 0xfff);
		CHECK_EQ(tcs.gs_limit, 0xfff);
		for (size_t b = 0; b < sizeof(tcs.reserved); b++)
			CHECK_EQ(tcs.reserved[b], 0);

		/* SSA frames: page aligned, all NSSA frames in one RW
		 * segment past the TCS pages, TCS i's own slice. */
		CHECK_EQ(tcs.ssa_offset % PAGE, 0);
		CHECK_GE(tcs.ssa_offset, tcs_end);
		CHECK_EQ(tcs.ssa_offset, ssa_start + i * ssa_len);
		seg = image_seg(&im, tcs.ssa_offset, ssa_len);
		CHECK(seg != NULL);
		CHECK(seg != tcsseg);
		CHECK_EQ(seg->flags, PF_R | PF_W);
		CHECK_LE(tcs.ssa_offset + ssa_len, tcb_start);

		/* Thread control block: its own RW page, FS and GS alike. */
		CHECK_EQ(tcs.fs_offset, tcs.gs_offset);
		CHECK_EQ(tcs.fs_offset % PAGE, 0);
		CHECK_EQ(tcs.fs_offset, tcb_start + i * PAGE);
		seg = image_seg(&im, tcs.fs_offset, PAGE);
		CHECK(seg != NULL);
		CHECK(seg != tcsseg);
		CHECK_EQ(seg->flags, PF_R | PF_W);
		CHECK_LE(tcs.fs_offset + PAGE, stack_start);
		if (tcs.fs_offset - seg->vaddr < seg->filesz) {
			struct sample_tcb tcb;

			memcpy(&tcb, im.buf + seg->offset + (tcs.fs_offset - seg->vaddr),
			       sizeof(tcb));
			CHECK_EQ(tcb.magic, SAMPLE_TCB_MAGIC);
			CHECK_EQ(tcb.index, i);
		} else {
			CHECK_MSG(0, "TCB %u is not initialized in the file", i);
		}
	}

	/* Stacks: a RW segment, SAMPLE_STACK_SIZE per TCS. */
	{
		const struct elf64_phdr *seg =
			image_seg(&im, stack_start, (uint64_t)SAMPLE_NR_TCS * SAMPLE_STACK_SIZE);

		CHECK(seg != NULL);
		CHECK_EQ(seg->flags, PF_R | PF_W);
	}
	free(im.buf);
}

/* The entry path's ENCLU (EEXIT) and the two in sample.c are encoded as
 * the architecture's 0f 01 d7. */
TEST(enclu_encoding)
{
	struct image im;
	const struct elf64_phdr *text;
	static const uint8_t enclu[] = { 0x0f, 0x01, 0xd7 };
	unsigned int n = 0;

	image_read(&im);
	text = image_seg(&im, image_sym(&im, "enclave_entry"), 1);
	CHECK(text != NULL);
	for (uint64_t off = 0; off + 3 <= text->filesz; off++)
		if (memcmp(im.buf + text->offset + off, enclu, 3) == 0)
			n++;
	CHECK_GE(n, 3);
	free(im.buf);
}

/* --- Running the image natively ----------------------------------------- */

/*
 * Registers around one entry.  test_eenter() loads rax..r15 and rbp from
 * *in (rsp stays the caller's), sets rcx to its own landing address and
 * jumps to the entry point; where EEXIT lands, every register is stored in
 * test_exit_regs, including the rsp the enclave restored.
 */
struct regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, r8, r9, r10, r11;
	uint64_t r12, r13, r14, r15, rbp, rsp;
};
struct regs test_exit_regs;
uint64_t test_entry_rsp; /* rsp just before the jump */
uint64_t test_landing; /* the landing address test_eenter passes in rcx */
void test_eenter(const struct regs *in, uint64_t entry);

__asm__(".pushsection .text\n"
	".globl test_eenter\n"
	".type test_eenter, @function\n"
	"test_eenter:\n"
	"	push %rbp\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rsi, %r11\n" /* entry point */
	"	mov 0x00(%rdi), %rax\n"
	"	mov 0x08(%rdi), %rbx\n"
	"	mov 0x20(%rdi), %rsi\n"
	"	mov 0x18(%rdi), %rdx\n"
	"	mov 0x30(%rdi), %r8\n"
	"	mov 0x38(%rdi), %r9\n"
	"	mov 0x40(%rdi), %r10\n"
	"	mov 0x50(%rdi), %r12\n"
	"	mov 0x58(%rdi), %r13\n"
	"	mov 0x60(%rdi), %r14\n"
	"	mov 0x68(%rdi), %r15\n"
	"	mov 0x70(%rdi), %rbp\n"
	"	mov 0x28(%rdi), %rdi\n"
	"	lea 1f(%rip), %rcx\n"
	"	mov %rcx, test_landing(%rip)\n"
	"	mov %rsp, test_entry_rsp(%rip)\n"
	"	jmp *%r11\n"
	"1:\n"
	"	mov %rax, test_exit_regs+0x00(%rip)\n"
	"	mov %rbx, test_exit_regs+0x08(%rip)\n"
	"	mov %rcx, test_exit_regs+0x10(%rip)\n"
	"	mov %rdx, test_exit_regs+0x18(%rip)\n"
	"	mov %rsi, test_exit_regs+0x20(%rip)\n"
	"	mov %rdi, test_exit_regs+0x28(%rip)\n"
	"	mov %r8, test_exit_regs+0x30(%rip)\n"
	"	mov %r9, test_exit_regs+0x38(%rip)\n"
	"	mov %r10, test_exit_regs+0x40(%rip)\n"
	"	mov %r11, test_exit_regs+0x48(%rip)\n"
	"	mov %r12, test_exit_regs+0x50(%rip)\n"
	"	mov %r13, test_exit_regs+0x58(%rip)\n"
	"	mov %r14, test_exit_regs+0x60(%rip)\n"
	"	mov %r15, test_exit_regs+0x68(%rip)\n"
	"	mov %rbp, test_exit_regs+0x70(%rip)\n"
	"	mov %rsp, test_exit_regs+0x78(%rip)\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	pop %rbp\n"
	"	ret\n"
	".size test_eenter, . - test_eenter\n"
	".popsection\n");

#define TEST_AEP 0xae9ae9ae9ae9ULL /* what EEXIT leaves in rcx here */
#define HEAP_PAGES 64

/* The mapped enclave and what the SIGILL/SIGSEGV/SIGTRAP handler saw. */
static struct {
	uint8_t *base;
	uint64_t size; /* image + heap */
	uint64_t image_end; /* __enclave_end */
	uint64_t eexits, ereports, egetkeys;
	bool bad_operand; /* a leaf got a misaligned or outside operand */
	int fault_signo; /* exception the enclave raised, 0 if none */
	uint64_t fault_addr, fault_rip;
	sigjmp_buf fault_jmp;
} run;

static bool in_enclave(uint64_t addr, uint64_t len)
{
	uint64_t b = (uint64_t)run.base;

	return addr >= b && len <= run.size && addr - b <= run.size - len;
}

/*
 * ENCLU outside an enclave traps: #UD (SIGILL) where the CPU has no SGX,
 * #GP (SIGSEGV, si_code SI_KERNEL, address 0) where it has SGX but the
 * thread is not in an enclave, as on some of the machines this runs on.
 * Either way, carry out the leaves the sample uses, as the architecture
 * defines their registers.
 */
static void on_enclave_signal(int signo, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	greg_t *g = uc->uc_mcontext.gregs;
	const uint8_t *ip = (const uint8_t *)g[REG_RIP];

	if ((signo == SIGILL || (signo == SIGSEGV && si->si_code == SI_KERNEL)) &&
	    ip[0] == 0x0f && ip[1] == 0x01 && ip[2] == 0xd7) {
		uint64_t rbx = g[REG_RBX], rcx = g[REG_RCX], rdx = g[REG_RDX];

		switch (g[REG_RAX]) {
		case EEXIT:
			run.eexits++;
			g[REG_RIP] = (greg_t)rbx;
			g[REG_RCX] = (greg_t)TEST_AEP;
			return;
		case EREPORT: {
			const struct sgx_targetinfo *ti = (const void *)rbx;
			struct sgx_report *r = (void *)rdx;

			run.ereports++;
			if (rbx % 512 || rcx % 128 || rdx % 512 || !in_enclave(rbx, 512) ||
			    !in_enclave(rcx, 64) || !in_enclave(rdx, 512)) {
				run.bad_operand = true;
			} else {
				memset(r, 0, SGX_REPORT_SIZE);
				memcpy(r->body.mrenclave, ti->mrenclave, 32);
				memcpy(r->body.report_data, (const void *)rcx, 64);
				memset(r->keyid, 0x11, sizeof(r->keyid));
				memset(r->mac, 0x22, sizeof(r->mac));
			}
			g[REG_RIP] += 3;
			return;
		}
		case EGETKEY: {
			const struct sgx_keyrequest *req = (const void *)rbx;
			uint8_t *key = (uint8_t *)rcx;

			run.egetkeys++;
			if (rbx % 512 || rcx % 16 || !in_enclave(rbx, 512) ||
			    !in_enclave(rcx, 16)) {
				run.bad_operand = true;
				g[REG_RAX] = SGX_INVALID_KEYNAME;
			} else if (req->keyname > SGX_KEYNAME_SEAL) {
				g[REG_RAX] = SGX_INVALID_KEYNAME;
			} else {
				for (int i = 0; i < 16; i++)
					key[i] = req->keyid[i] ^ 0x5a;
				g[REG_RAX] = 0;
			}
			g[REG_RIP] += 3;
			return;
		}
		}
	}
	if (signo == SIGTRAP) {
		/* A trap: the instruction is done; "ERESUME" by returning. */
		run.fault_signo = signo;
		run.fault_rip = g[REG_RIP];
		return;
	}
	run.fault_signo = signo;
	run.fault_addr = (uint64_t)si->si_addr;
	run.fault_rip = g[REG_RIP];
	siglongjmp(run.fault_jmp, 1);
}

static int prot_of(uint32_t flags)
{
	return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) |
	       ((flags & PF_X) ? PROT_EXEC : 0);
}

/*
 * Maps the image and HEAP_PAGES of heap as a loader would, with the TCS
 * pages inaccessible (enclave code may not touch a TCS), and installs the
 * handler on an alternate stack (faults happen on the small enclave stack).
 */
static void run_setup(struct image *im)
{
	static uint8_t altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;

	image_read(im);
	memset(&run, 0, sizeof(run));
	run.image_end = image_sym(im, "__enclave_end");
	run.size = run.image_end + (uint64_t)HEAP_PAGES * PAGE;
	/* One inaccessible page after the heap, so that going past it
	 * faults whatever the kernel maps next. */
	run.base = mmap(NULL, run.size + PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(run.base != MAP_FAILED);
	CHECK_EQ(mprotect(run.base + run.size, PAGE, PROT_NONE), 0);
	for (unsigned int i = 0; i < im->nr_load; i++) {
		const struct elf64_phdr *ph = &im->load[i];

		memcpy(run.base + ph->vaddr, im->buf + ph->offset, ph->filesz);
		CHECK_EQ(mprotect(run.base + ph->vaddr, ph->memsz,
				  i == 0 ? PROT_NONE : prot_of(ph->flags)), 0);
	}

	CHECK_EQ(sigaltstack(&ss, NULL), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_enclave_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGILL, &sa, NULL), 0);
	CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
	CHECK_EQ(sigaction(SIGTRAP, &sa, NULL), 0);
}

static void run_teardown(struct image *im)
{
	CHECK_EQ(munmap(run.base, run.size + PAGE), 0);
	free(im->buf);
}

/* One EENTER on TCS tcs with CSSA cssa; fills *out and returns RDX.  A
 * fault inside the enclave ends the case unless expect_fault, in which
 * case the signal is returned as -signo. */
static long enter_full(const struct image *im, unsigned int tcs, uint32_t cssa, long op,
		       long a1, long a2, long a3, struct regs *out, bool expect_fault)
{
	struct regs in = {
		.rax = cssa, .rbx = (uint64_t)run.base + tcs * PAGE,
		.rdi = (uint64_t)op, .rsi = (uint64_t)a1, .rdx = (uint64_t)a2,
		.r8 = (uint64_t)a3, .r9 = 0x9999, .r10 = 0x1010, .r11 = 0x1111,
		.r12 = 0x1212121212121212, .r13 = 0x1313131313131313,
		.r14 = 0x1414141414141414, .r15 = 0x1515151515151515,
		.rbp = 0xbbbbbbbbbbbbbbbb,
	};
	uint64_t entry = (uint64_t)run.base + im->eh.entry;

	run.fault_signo = 0;
	if (sigsetjmp(run.fault_jmp, 1)) {
		CHECK_MSG(expect_fault, "op %ld faulted: signal %d at rip %#llx addr %#llx", op,
			  run.fault_signo, (unsigned long long)run.fault_rip,
			  (unsigned long long)run.fault_addr);
		return -run.fault_signo;
	}
	memset(&test_exit_regs, 0, sizeof(test_exit_regs));
	test_eenter(&in, entry);
	if (out)
		*out = test_exit_regs;

	/* The ABI's promises on every exit. */
	CHECK_EQ(test_exit_regs.rax, EEXIT);
	CHECK_EQ(test_exit_regs.rbx, test_landing);
	CHECK_EQ(test_exit_regs.rcx, TEST_AEP);
	CHECK_EQ(test_exit_regs.rsp, test_entry_rsp);
	CHECK_EQ(test_exit_regs.rbp, in.rbp);
	CHECK_EQ(test_exit_regs.r12, in.r12);
	CHECK_EQ(test_exit_regs.r13, in.r13);
	CHECK_EQ(test_exit_regs.r14, in.r14);
	CHECK_EQ(test_exit_regs.r15, in.r15);
	CHECK_EQ(test_exit_regs.rdi, 0);
	CHECK_EQ(test_exit_regs.rsi, 0);
	CHECK_EQ(test_exit_regs.r8, 0);
	CHECK_EQ(test_exit_regs.r9, 0);
	CHECK_EQ(test_exit_regs.r10, 0);
	CHECK_EQ(test_exit_regs.r11, 0);
	return (long)test_exit_regs.rdx;
}

static long enter(const struct image *im, unsigned int tcs, long op, long a1, long a2, long a3)
{
	return enter_full(im, tcs, 0, op, a1, a2, a3, NULL, false);
}

/* What SAMPLE_OP_FILL should return, computed here. */
static long expected_checksum(uint64_t seed, uint64_t first, uint64_t count)
{
	uint64_t sum = SAMPLE_CHECKSUM_INIT;

	for (uint64_t p = first; p < first + count; p++)
		for (uint64_t i = 0; i < PAGE / 8; i++)
			sum = sample_checksum_step(sum, sample_pattern(seed, p, i));
	return sample_checksum_final(sum);
}

TEST(run_add_and_abi)
{
	struct image im;
	uint64_t eexits;

	run_setup(&im);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_ADD, 40, 2, 0), 42);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_ADD, -5, 3, 0), -2);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_ADD, 1L << 40, 7, 0), (1L << 40) + 7);
	CHECK_EQ(enter(&im, 0, 99, 0, 0, 0), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, -1, 0, 0, 0), SAMPLE_EINVAL);
	eexits = run.eexits;
	CHECK_EQ(eexits, 5);
	run_teardown(&im);
}

TEST(run_two_tcs)
{
	struct image im;

	run_setup(&im);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_TCS_INDEX, 0, 0, 0), 0);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_TCS_INDEX, 0, 0, 0), 1);
	/* Per-TCS and global call counters (calls completed before). */
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_STATS, SAMPLE_STAT_THREAD_CALLS, 0, 0), 1);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_STATS, SAMPLE_STAT_THREAD_CALLS, 0, 0), 1);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_STATS, SAMPLE_STAT_CALLS, 0, 0), 4);
	/* The loader's copies of .data and .rodata. */
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_STATS, SAMPLE_STAT_DATA_WORD, 0, 0), SAMPLE_DATA_WORD);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_STATS, SAMPLE_STAT_RO_WORD, 0, 0), SAMPLE_RO_WORD);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_STATS, 17, 0, 0), SAMPLE_EINVAL);
	run_teardown(&im);
}

/* RBX that is not a TCS of the image: exit with SAMPLE_BAD_TCS, stack
 * untouched. */
TEST(run_bad_tcs)
{
	struct image im;
	struct regs in = { .rdi = SAMPLE_OP_ADD, .rsi = 1, .rdx = 2 };
	uint64_t bad[] = { SAMPLE_NR_TCS * PAGE, 8, (uint64_t)-PAGE };

	run_setup(&im);
	if (sigsetjmp(run.fault_jmp, 1))
		CHECK_MSG(0, "faulted: signal %d at rip %#llx", run.fault_signo,
			  (unsigned long long)run.fault_rip);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in.rbx = (uint64_t)run.base + bad[i];
		test_eenter(&in, (uint64_t)run.base + im.eh.entry);
		CHECK_EQ(test_exit_regs.rdx, (uint64_t)SAMPLE_BAD_TCS);
		CHECK_EQ(test_exit_regs.rsp, test_entry_rsp);
	}
	run_teardown(&im);
}

/* CSSA > 0: returns -2 at once; the interrupted frame (the top of the
 * TCS's stack) and the caller's RSP/RBP stay as they were. */
TEST(run_exception_handler_entry)
{
	struct image im;
	uint64_t stack, top;
	uint8_t *before;
	struct regs out;

	run_setup(&im);
	stack = image_sym(&im, "__stack_start");
	top = stack + SAMPLE_STACK_SIZE;
	/* Put a recognisable "live frame" on TCS 0's stack. */
	memset(run.base + top - 512, 0xa5, 512);
	before = malloc(SAMPLE_NR_TCS * SAMPLE_STACK_SIZE);
	CHECK(before != NULL);
	memcpy(before, run.base + stack, SAMPLE_NR_TCS * SAMPLE_STACK_SIZE);
	for (uint32_t cssa = 1; cssa <= SAMPLE_NSSA - 1; cssa++) {
		CHECK_EQ(enter_full(&im, 0, cssa, SAMPLE_OP_ADD, 1, 2, 0, &out, false),
			 SAMPLE_EXCEPTION_ENTRY);
		CHECK_EQ(enter_full(&im, 1, cssa, SAMPLE_OP_ADD, 1, 2, 0, &out, false),
			 SAMPLE_EXCEPTION_ENTRY);
	}
	CHECK_MEM(before, run.base + stack, SAMPLE_NR_TCS * SAMPLE_STACK_SIZE);
	/* A normal call afterwards does use (and so changes) the stack. */
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_ADD, 1, 2, 0), 3);
	CHECK(memcmp(before, run.base + stack, SAMPLE_STACK_SIZE) != 0);
	free(before);
	run_teardown(&im);
}

TEST(run_heap_fill_checksum_verify)
{
	struct image im;
	uint64_t seed = harness_seed(0x5eed);
	long sum, want;
	uint64_t *word;

	run_setup(&im);
	want = expected_checksum(seed, 0, HEAP_PAGES);
	sum = enter(&im, 0, SAMPLE_OP_FILL, (long)seed, HEAP_PAGES, 0);
	CHECK_GE(sum, 0);
	CHECK_EQ(sum, want);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_CHECKSUM, 0, HEAP_PAGES, 0), want);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_VERIFY, (long)seed, HEAP_PAGES, 0), HEAP_PAGES);
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_VERIFY, (long)seed + 1, HEAP_PAGES, 0), 0);
	/* The pattern sits at __enclave_end, page by page. */
	word = (uint64_t *)(run.base + run.image_end + 5 * PAGE);
	CHECK_EQ(word[7], sample_pattern(seed, 5, 7));

	/* A corrupted word is seen by both readers. */
	word[7] ^= 1;
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_VERIFY, (long)seed, HEAP_PAGES, 0), HEAP_PAGES - 1);
	CHECK_NE(enter(&im, 0, SAMPLE_OP_CHECKSUM, 0, HEAP_PAGES, 0), want);
	/* Two pages swapped: same words, wrong places. */
	word[7] ^= 1;
	{
		uint8_t tmp[PAGE];
		uint8_t *p3 = run.base + run.image_end + 3 * PAGE;
		uint8_t *p4 = p3 + PAGE;

		memcpy(tmp, p3, PAGE);
		memcpy(p3, p4, PAGE);
		memcpy(p4, tmp, PAGE);
	}
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_VERIFY, (long)seed, HEAP_PAGES, 0), HEAP_PAGES - 2);
	CHECK_NE(enter(&im, 0, SAMPLE_OP_CHECKSUM, 0, HEAP_PAGES, 0), want);

	/* A sub-range, from TCS 1. */
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_FILL, 77, 8, 10), expected_checksum(77, 10, 8));
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_VERIFY, 77, 8, 10), 8);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_FILL, 1, 0, 0), expected_checksum(1, 0, 0));

	/* Bad ranges. */
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_FILL, 1, -1, 0), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_FILL, 1, 1, -1), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_CHECKSUM, 0, SAMPLE_HEAP_MAX_PAGES, 1), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_VERIFY, 0, 1, SAMPLE_HEAP_MAX_PAGES), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_FILL, 0, 1L << 62, 1L << 62), SAMPLE_EINVAL);

	/* Past the heap this loader added: the page fault a real enclave
	 * would take as an AEX. */
	CHECK_EQ(enter_full(&im, 0, 0, SAMPLE_OP_FILL, 1, 1, HEAP_PAGES, NULL, true), -SIGSEGV);
	CHECK_EQ(run.fault_addr, (uint64_t)run.base + run.image_end + HEAP_PAGES * PAGE);
	run_teardown(&im);
}

TEST(run_faults)
{
	struct image im;
	uint64_t text_start, text_end, ro_start, ro_end, outside = 0x0123456789abcdefULL;

	run_setup(&im);
	text_start = (uint64_t)run.base + image_sym(&im, "__text_start");
	text_end = (uint64_t)run.base + image_sym(&im, "__text_end");
	ro_start = (uint64_t)run.base + image_sym(&im, "__rodata_start");
	ro_end = (uint64_t)run.base + image_sym(&im, "__rodata_end");

	CHECK_EQ(enter_full(&im, 0, 0, SAMPLE_OP_FAULT, SAMPLE_FAULT_UD2, 0, 0, NULL, true),
		 -SIGILL);
	CHECK(run.fault_rip >= text_start && run.fault_rip < text_end);
	CHECK_EQ(((const uint8_t *)run.fault_rip)[0], 0x0f);
	CHECK_EQ(((const uint8_t *)run.fault_rip)[1], 0x0b);

	CHECK_EQ(enter_full(&im, 1, 0, SAMPLE_OP_FAULT, SAMPLE_FAULT_READ, 0, 0, NULL, true),
		 -SIGSEGV);
	CHECK_EQ(run.fault_addr, 0);
	CHECK(run.fault_rip >= text_start && run.fault_rip < text_end);
	/* The same read of a good address just returns the word. */
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_FAULT, SAMPLE_FAULT_READ, (long)&outside, 0),
		 (long)outside);

	CHECK_EQ(enter_full(&im, 0, 0, SAMPLE_OP_FAULT, SAMPLE_FAULT_WRITE_RO, 0, 0, NULL, true),
		 -SIGSEGV);
	CHECK(run.fault_addr >= ro_start && run.fault_addr < ro_end);
	CHECK_EQ(*(const uint64_t *)run.fault_addr, SAMPLE_RO_WORD);

	/* int3 is a trap: returning from the handler resumes after it. */
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_FAULT, SAMPLE_FAULT_INT3, 0, 0), SAMPLE_FAULT_INT3);
	CHECK_EQ(run.fault_signo, SIGTRAP);
	CHECK(run.fault_rip >= text_start && run.fault_rip < text_end);

	CHECK_EQ(enter(&im, 0, SAMPLE_OP_FAULT, 7, 0, 0), SAMPLE_EINVAL);
	/* The thread still works after each fault (fresh entry, CSSA 0). */
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_ADD, 2, 2, 0), 4);
	run_teardown(&im);
}

TEST(run_ereport_egetkey)
{
	struct image im;
	struct {
		struct sgx_targetinfo ti;
		uint8_t data[64];
	} in_rep;
	struct sgx_keyrequest req;
	struct sgx_report rep;
	uint8_t key[16], zero[16] = { 0 };

	_Static_assert(sizeof(in_rep.ti) + sizeof(in_rep.data) == SAMPLE_KEYS_EREPORT_IN_SIZE,
		       "EREPORT input");
	run_setup(&im);
	memset(&in_rep, 0, sizeof(in_rep));
	for (int i = 0; i < 32; i++)
		in_rep.ti.mrenclave[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < 64; i++)
		in_rep.data[i] = (uint8_t)(0x80 + i);
	memset(&rep, 0xee, sizeof(rep));
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, (long)&rep, (long)&in_rep, SAMPLE_KEYS_EREPORT), 0);
	CHECK_EQ(run.ereports, 1);
	CHECK(!run.bad_operand);
	CHECK_MEM(rep.body.mrenclave, in_rep.ti.mrenclave, 32);
	CHECK_MEM(rep.body.report_data, in_rep.data, 64);
	CHECK_EQ(rep.mac[15], 0x22);
	CHECK_EQ(((uint8_t *)&rep)[SGX_REPORT_SIZE], 0xee); /* 432 bytes copied, no more */

	memset(&req, 0, sizeof(req));
	req.keyname = SGX_KEYNAME_SEAL;
	for (int i = 0; i < 32; i++)
		req.keyid[i] = (uint8_t)i;
	memset(key, 0, sizeof(key));
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_KEYS, (long)key, (long)&req, SAMPLE_KEYS_EGETKEY), 0);
	CHECK_EQ(run.egetkeys, 1);
	CHECK(!run.bad_operand);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(key[i], i ^ 0x5a);

	/* An SGX error code comes back as the result, nothing copied out. */
	memset(key, 0, sizeof(key));
	req.keyname = 7;
	CHECK_EQ(enter(&im, 1, SAMPLE_OP_KEYS, (long)key, (long)&req, SAMPLE_KEYS_EGETKEY),
		 SGX_INVALID_KEYNAME);
	CHECK_MEM(key, zero, sizeof(key));

	/* Pointers into the enclave, null pointers and bad leaves. */
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, (long)(run.base + run.image_end), (long)&req,
		       SAMPLE_KEYS_EGETKEY), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, (long)key, (long)(run.base + PAGE),
		       SAMPLE_KEYS_EGETKEY), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, (long)(run.base - 8), (long)&req,
		       SAMPLE_KEYS_EGETKEY), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, 0, (long)&req, SAMPLE_KEYS_EGETKEY), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, (long)&rep, 0, SAMPLE_KEYS_EREPORT), SAMPLE_EINVAL);
	CHECK_EQ(enter(&im, 0, SAMPLE_OP_KEYS, (long)key, (long)&req, 2), SAMPLE_EINVAL);
	CHECK_EQ(run.egetkeys, 2);
	CHECK_EQ(run.ereports, 1);
	run_teardown(&im);
}
