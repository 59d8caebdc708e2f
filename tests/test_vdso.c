/*
 * test_vdso.c: the runtime's vDSO image (rt_vdso.h), read back the ways
 * loaders read a vDSO, each with a parser of its own written here: the
 * DT_HASH walk (the kernel's selftests, musl), the DT_GNU_HASH walk
 * (glibc), the section headers by name (Intel, Open Enclave) and by
 * first-of-type (Enarx); the auxiliary vector from environ; a weak
 * reference the dynamic linker binds; and a real entry of the sample
 * enclave through the symbol found.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <elf.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "rt_helpers.h"
#include "sgxemu/rt_vdso.h"

extern char **environ;

/* libvdso_weakref.so: a weak, versioned reference (LINUX_2.6 of
 * linux-vdso.so.1, through a stand-in library of that soname at link
 * time), as Fortanix's runner makes it. */
void *vdso_weakref_enter(void);

/* Calls a vDSO-ABI enter function from C: keeps the registers the ABI
 * does not (RBX, R12-R15), the run structure as the 7th argument on the
 * stack, as the kernel selftests' call.S does. */
typedef int (*vdso_enter_t)(unsigned long, unsigned long, unsigned long, unsigned int,
			    unsigned long, unsigned long, struct sgx_enclave_run *);
int vdso_call(unsigned long rdi, unsigned long rsi, unsigned long rdx, unsigned int function,
	      unsigned long r8, unsigned long r9, struct sgx_enclave_run *run, vdso_enter_t fn);
__asm__(".text\n"
	".globl vdso_call\n"
	".type vdso_call, @function\n"
	"vdso_call:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov 24(%rbp), %rax\n"
	"	pushq 16(%rbp)\n"
	"	call *%rax\n"
	"	add $8, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	pop %rbp\n"
	"	ret\n"
	".size vdso_call, . - vdso_call\n");

/* --- Parsers, one per loader kind -------------------------------------- */

static const Elf64_Dyn *dyn_table(const uint8_t *b)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(b + eh->e_phoff);

	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			return (const Elf64_Dyn *)(b + ph[i].p_offset);
	return NULL;
}

static const void *dyn_ptr(const uint8_t *b, int64_t tag)
{
	const Elf64_Dyn *d = dyn_table(b);

	for (; d && d->d_tag != DT_NULL; d++)
		if (d->d_tag == tag)
			return b + d->d_un.d_ptr;
	return NULL;
}

static uint32_t t_sysv_hash(const char *s)
{
	uint32_t h = 0;

	while (*s) {
		h = (h << 4) + (unsigned char)*s++;
		if (h & 0xf0000000U)
			h ^= (h & 0xf0000000U) >> 24;
		h &= 0x0fffffffU;
	}
	return h;
}

/* The selftests' way: PT_DYNAMIC, DT_SYMTAB, DT_STRTAB, DT_HASH. */
static int lookup_sysv(const uint8_t *b, const char *name)
{
	const Elf64_Sym *sym = dyn_ptr(b, DT_SYMTAB);
	const char *str = dyn_ptr(b, DT_STRTAB);
	const uint32_t *h = dyn_ptr(b, DT_HASH);

	if (!sym || !str || !h)
		return -1;
	for (uint32_t i = h[2 + t_sysv_hash(name) % h[0]]; i; i = h[2 + h[0] + i])
		if (!strcmp(str + sym[i].st_name, name))
			return (int)i;
	return -1;
}

/* glibc's way: DT_GNU_HASH with its Bloom filter. */
static int lookup_gnu(const uint8_t *b, const char *name)
{
	const Elf64_Sym *sym = dyn_ptr(b, DT_SYMTAB);
	const char *str = dyn_ptr(b, DT_STRTAB);
	const uint32_t *g = dyn_ptr(b, DT_GNU_HASH);
	const uint64_t *bloom;
	const uint32_t *buckets, *chain;
	uint32_t h = 5381, i;
	uint64_t mask;

	if (!sym || !str || !g)
		return -1;
	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	bloom = (const uint64_t *)(g + 4);
	buckets = (const uint32_t *)(bloom + g[2]);
	chain = buckets + g[0];
	mask = (1ULL << (h % 64)) | (1ULL << ((h >> g[3]) % 64));
	if ((bloom[(h / 64) % g[2]] & mask) != mask)
		return -1;
	for (i = buckets[h % g[0]]; i; i++) {
		uint32_t c = chain[i - g[1]];

		if ((c | 1) == (h | 1) && !strcmp(str + sym[i].st_name, name))
			return (int)i;
		if (c & 1)
			break;
	}
	return -1;
}

static const Elf64_Shdr *section(const uint8_t *b, const char *name, uint32_t type)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
	const char *names = (const char *)b + sh[eh->e_shstrndx].sh_offset;

	for (int i = 0; i < eh->e_shnum; i++)
		if ((!name || !strcmp(names + sh[i].sh_name, name)) && sh[i].sh_type == type)
			return &sh[i];
	return NULL;
}

/* Intel's and Open Enclave's way: .dynsym and .dynstr named through
 * e_shstrndx, every symbol compared. */
static int lookup_shdr(const uint8_t *b, const char *name)
{
	const Elf64_Shdr *ds = section(b, ".dynsym", SHT_DYNSYM), *st = section(b, ".dynstr", SHT_STRTAB);

	if (!ds || !st || ds->sh_entsize != sizeof(Elf64_Sym))
		return -1;
	for (uint64_t i = 0; i < ds->sh_size / sizeof(Elf64_Sym); i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(b + ds->sh_offset) + i;

		if (!strcmp((const char *)b + st->sh_offset + s->st_name, name))
			return (int)i;
	}
	return -1;
}

/* A symbol's version name from .gnu.version and .gnu.version_d (sections)
 * or DT_VERSYM and DT_VERDEF (dynamic), and whether it is hidden. */
static const char *version_name(const uint8_t *b, int idx, bool from_sections, bool *hidden)
{
	const uint16_t *versym;
	const uint8_t *vd;
	const char *str;
	uint16_t v;

	if (from_sections) {
		versym = (const uint16_t *)(b + section(b, ".gnu.version", SHT_GNU_versym)->sh_offset);
		vd = b + section(b, ".gnu.version_d", SHT_GNU_verdef)->sh_offset;
		str = (const char *)b + section(b, ".dynstr", SHT_STRTAB)->sh_offset;
	} else {
		versym = dyn_ptr(b, DT_VERSYM);
		vd = dyn_ptr(b, DT_VERDEF);
		str = dyn_ptr(b, DT_STRTAB);
	}
	v = versym[idx];
	*hidden = (v & 0x8000) != 0;
	for (;;) {
		const Elf64_Verdef *d = (const Elf64_Verdef *)vd;

		if (d->vd_ndx == (v & 0x7fff))
			return str + ((const Elf64_Verdaux *)(vd + d->vd_aux))->vda_name;
		if (!d->vd_next)
			return "";
		vd += d->vd_next;
	}
}

/* Where a stub of the image jumps: endbr64, jmp *rel32(%rip). */
static uint64_t stub_target(const uint8_t *p)
{
	int32_t rel;

	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		p += 4;
	CHECK_MSG(p[0] == 0xff && p[1] == 0x25, "not a stub: %02x %02x", p[0], p[1]);
	memcpy(&rel, p + 2, 4);
	return *(const uint64_t *)(p + 6 + rel);
}

struct want {
	const char *name, *version;
	bool hidden, abs;
	unsigned char info;
	uint64_t target;
};

/* The host's exported symbols, read through its section headers. */
static int host_symbols(const uint8_t *host, struct want *w, int max)
{
	const Elf64_Shdr *ds = section(host, ".dynsym", SHT_DYNSYM);
	const Elf64_Shdr *st = section(host, ".dynstr", SHT_STRTAB);
	int n = 0;

	CHECK(ds && st);
	for (uint64_t i = 1; i < ds->sh_size / sizeof(Elf64_Sym); i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(host + ds->sh_offset) + i;

		if (s->st_shndx == SHN_UNDEF)
			continue;
		CHECK_LT(n, max);
		w[n].name = (const char *)host + st->sh_offset + s->st_name;
		w[n].version = version_name(host, (int)i, true, &w[n].hidden);
		w[n].abs = s->st_shndx == SHN_ABS;
		w[n].info = s->st_info;
		w[n].target = (uint64_t)(uintptr_t)host + s->st_value;
		n++;
	}
	return n;
}

static const uint8_t *installed_image(void)
{
	size_t size;

	CHECK_EQ(sgxrt_vdso_install(), 0);
	CHECK_EQ(sgxrt_vdso_install(), 0); /* again: nothing changes */
	CHECK(sgxrt_vdso_image(&size) != NULL);
	CHECK_EQ((uint64_t)getauxval(AT_SYSINFO_EHDR), (uint64_t)(uintptr_t)sgxrt_vdso_image(NULL));
	CHECK_NE((uint64_t)(uintptr_t)sgxrt_vdso_host(), (uint64_t)getauxval(AT_SYSINFO_EHDR));
	return sgxrt_vdso_image(NULL);
}

/* --- Cases ------------------------------------------------------------- */

/* The headers every parser checks (Open Enclave's list), and the table
 * order Enarx's first-of-type search needs. */
TEST(image_headers_as_parsers_expect)
{
	const uint8_t *img = installed_image(), *host = sgxrt_vdso_host();
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	const char *names = (const char *)img + sh[eh->e_shstrndx].sh_offset;
	const Elf64_Dyn *d;
	size_t size;
	bool load = false, dynamic = false;

	(void)sgxrt_vdso_image(&size);
	CHECK_MEM(eh->e_ident, ELFMAG, SELFMAG);
	CHECK_EQ(eh->e_ident[EI_CLASS], ELFCLASS64);
	CHECK_EQ(eh->e_type, ET_DYN);
	CHECK_EQ(eh->e_machine, EM_X86_64);
	CHECK_EQ(eh->e_ehsize, 64);
	CHECK_EQ(eh->e_phentsize, 56);
	CHECK_EQ(eh->e_shentsize, 64);
	CHECK_LT(eh->e_shstrndx, eh->e_shnum);
	CHECK_LE(eh->e_shoff + (uint64_t)eh->e_shnum * 64, size);
	CHECK_STR(names + sh[eh->e_shstrndx].sh_name, ".shstrtab");
	for (int i = 0; i < eh->e_phnum; i++) {
		CHECK_NE(ph[i].p_type, PT_TLS);
		if (ph[i].p_type == PT_LOAD && !load) {
			CHECK_EQ(ph[i].p_vaddr, 0);
			CHECK_EQ(ph[i].p_offset, 0);
			CHECK_GE(ph[i].p_memsz, eh->e_shoff + (uint64_t)eh->e_shnum * 64);
			load = true;
		}
		if (ph[i].p_type == PT_DYNAMIC) {
			CHECK_EQ(ph[i].p_vaddr, ph[i].p_offset);
			dynamic = true;
		}
	}
	CHECK(load && dynamic);
	/* Enarx: the first SHT_STRTAB and SHT_DYNSYM are the dynamic ones. */
	CHECK_STR(names + section(img, NULL, SHT_STRTAB)->sh_name, ".dynstr");
	CHECK_STR(names + section(img, NULL, SHT_DYNSYM)->sh_name, ".dynsym");
	for (int i = 1; i < eh->e_shnum; i++)
		if (sh[i].sh_flags & SHF_ALLOC)
			CHECK_EQ(sh[i].sh_addr, sh[i].sh_offset);
	/* The soname the dynamic linker matches, the host's. */
	for (d = dyn_table(img); d->d_tag != DT_SONAME; d++)
		CHECK_NE(d->d_tag, DT_NULL);
	CHECK_STR((const char *)dyn_ptr(img, DT_STRTAB) + d->d_un.d_val, "linux-vdso.so.1");
	for (d = dyn_table(host); d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_SONAME)
			CHECK_STR((const char *)dyn_ptr(host, DT_STRTAB) + d->d_un.d_val,
				  "linux-vdso.so.1");
}

/* Every symbol of the host's vDSO and __vdso_sgx_enter_enclave, found by
 * all three lookups at one index, with the host's version, binding and
 * type, each function a stub into the host's code (the entry into the
 * runtime's); nothing else exported. */
TEST(three_lookups_find_every_symbol_with_its_version)
{
	const uint8_t *img = installed_image(), *host = sgxrt_vdso_host();
	struct want w[64];
	int n = host_symbols(host, w, 63), defined = 0;
	const Elf64_Shdr *ds = section(img, ".dynsym", SHT_DYNSYM);

	CHECK_GT(n, 0);
	for (int i = 0; i < n; i++)
		CHECK_MSG(strcmp(w[i].name, "__vdso_sgx_enter_enclave"), "the host has the entry");
	w[n].name = "__vdso_sgx_enter_enclave";
	w[n].version = "LINUX_2.6";
	w[n].hidden = false;
	w[n].abs = false;
	w[n].info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
	w[n].target = (uint64_t)(uintptr_t)sgxrt_enter_enclave;
	n++;
	for (int i = 0; i < n; i++) {
		int a = lookup_sysv(img, w[i].name), b = lookup_gnu(img, w[i].name);
		int c = lookup_shdr(img, w[i].name);
		const Elf64_Sym *s;
		bool hidden;

		CHECK_MSG(a > 0 && a == b && b == c, "%s: DT_HASH %d, DT_GNU_HASH %d, sections %d",
			  w[i].name, a, b, c);
		s = (const Elf64_Sym *)dyn_ptr(img, DT_SYMTAB) + a;
		CHECK_STR(version_name(img, a, false, &hidden), w[i].version);
		CHECK_EQ(hidden, w[i].hidden);
		CHECK_STR(version_name(img, c, true, &hidden), w[i].version);
		CHECK_EQ(s->st_info, w[i].info);
		if (w[i].abs) {
			CHECK_EQ(s->st_shndx, SHN_ABS);
			continue;
		}
		CHECK_STR((const char *)img + section(img, ".shstrtab", SHT_STRTAB)->sh_offset +
				  ((const Elf64_Shdr *)(img + ((const Elf64_Ehdr *)img)->e_shoff))[s->st_shndx].sh_name,
			  ".text");
		CHECK_MSG(stub_target(img + s->st_value) == w[i].target, "%s: stub to %#llx, want %#llx",
			  w[i].name, (unsigned long long)stub_target(img + s->st_value),
			  (unsigned long long)w[i].target);
	}
	/* Names that are not there are not found by any. */
	CHECK_EQ(lookup_sysv(img, "__vdso_sgx_enter_enclav"), -1);
	CHECK_EQ(lookup_gnu(img, "__vdso_sgx_enter_enclavE"), -1);
	CHECK_EQ(lookup_shdr(img, "sgx_enter_enclave"), -1);
	for (uint64_t i = 1; i < ds->sh_size / sizeof(Elf64_Sym); i++)
		defined += ((const Elf64_Sym *)(img + ds->sh_offset))[i].st_shndx != SHN_UNDEF;
	CHECK_EQ(defined, n);
}

typedef int (*clock_gettime_t)(clockid_t, struct timespec *);
typedef int (*gettimeofday_t)(struct timeval *, void *);
typedef time_t (*time_t_fn)(time_t *);
typedef long (*getcpu_t)(unsigned int *, unsigned int *, void *);
typedef int (*clock_getres_t)(clockid_t, struct timespec *);
typedef ssize_t (*getrandom_t)(void *, size_t, unsigned int, void *, size_t);

static void *image_fn(const char *name)
{
	const uint8_t *img = sgxrt_vdso_image(NULL);
	int i = lookup_gnu(img, name);

	CHECK_MSG(i > 0, "%s not in the image", name);
	return (void *)(img + ((const Elf64_Sym *)dyn_ptr(img, DT_SYMTAB))[i].st_value);
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Each function through the image answers as the system call does: a
 * clock read between two reads of the kernel's, the same resolution, the
 * CPU the thread is pinned to. */
TEST(functions_through_the_image_answer_as_the_kernel)
{
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
					    CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
					    CLOCK_MONOTONIC_COARSE };
	clock_gettime_t cg, cg2;
	clock_getres_t cr;
	gettimeofday_t gtod;
	time_t_fn tm;
	getcpu_t gc;
	cpu_set_t allowed;

	(void)installed_image();
	cg = image_fn("clock_gettime");
	cg2 = image_fn("__vdso_clock_gettime");
	CHECK(cg == cg2); /* aliases share the stub, as in the host's */
	cr = image_fn("__vdso_clock_getres");
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		struct timespec a, b, c, r1, r2;

		CHECK_EQ(syscall(SYS_clock_gettime, clocks[i], &a), 0);
		CHECK_EQ(cg(clocks[i], &b), 0);
		CHECK_EQ(syscall(SYS_clock_gettime, clocks[i], &c), 0);
		if (clocks[i] != CLOCK_REALTIME && clocks[i] != CLOCK_REALTIME_COARSE) {
			CHECK_LE(ts_ns(&a), ts_ns(&b));
			CHECK_LE(ts_ns(&b), ts_ns(&c));
		}
		CHECK_EQ(cr(clocks[i], &r1), 0);
		CHECK_EQ(syscall(SYS_clock_getres, clocks[i], &r2), 0);
		CHECK_EQ(ts_ns(&r1), ts_ns(&r2));
	}
	/* An invalid clock: the same error. */
	{
		struct timespec t;

		CHECK_EQ(cg(-12345, &t), -EINVAL);
	}
	gtod = image_fn("gettimeofday");
	{
		struct timeval a, b, c;
		struct timezone tz1, tz2;

		CHECK_EQ(syscall(SYS_gettimeofday, &a, &tz1), 0);
		CHECK_EQ(gtod(&b, &tz2), 0);
		CHECK_EQ(syscall(SYS_gettimeofday, &c, NULL), 0);
		CHECK_LE((int64_t)a.tv_sec * 1000000 + a.tv_usec - 1000000,
			 (int64_t)b.tv_sec * 1000000 + b.tv_usec);
		CHECK_LE((int64_t)b.tv_sec * 1000000 + b.tv_usec - 1000000,
			 (int64_t)c.tv_sec * 1000000 + c.tv_usec);
		CHECK_EQ(tz1.tz_minuteswest, tz2.tz_minuteswest);
	}
	tm = image_fn("time");
	{
		time_t a = (time_t)syscall(SYS_time, NULL), out = 0, b = tm(&out);
		time_t c = (time_t)syscall(SYS_time, NULL);

		CHECK_LE(a, b);
		CHECK_LE(b, c);
		CHECK_EQ(out, b);
	}
	gc = image_fn("getcpu");
	CHECK_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		cpu_set_t one;
		unsigned int c1 = ~0U, n1 = ~0U, c2 = ~0U, n2 = ~0U;

		if (!CPU_ISSET(cpu, &allowed))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		CHECK_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
		CHECK_EQ(gc(&c1, &n1, NULL), 0);
		CHECK_EQ(syscall(SYS_getcpu, &c2, &n2, NULL), 0);
		CHECK_EQ(c1, cpu);
		CHECK_EQ(c1, c2);
		CHECK_EQ(n1, n2);
	}
	/* getrandom where the host's vDSO has it: the parameter query and a
	 * plain read without state give what the host's does. */
	if (lookup_gnu(sgxrt_vdso_host(), "__vdso_getrandom") > 0) {
		getrandom_t gi = image_fn("__vdso_getrandom");
		getrandom_t gh = (getrandom_t)(void *)((const uint8_t *)sgxrt_vdso_host() +
			((const Elf64_Sym *)dyn_ptr(sgxrt_vdso_host(), DT_SYMTAB))
				[lookup_gnu(sgxrt_vdso_host(), "__vdso_getrandom")].st_value);
		uint8_t p1[64], p2[64], buf[32];

		memset(p1, 0xa5, sizeof(p1));
		memset(p2, 0xa5, sizeof(p2));
		CHECK_EQ(gi(NULL, 0, 0, p1, ~0UL), gh(NULL, 0, 0, p2, ~0UL));
		CHECK_MEM(p1, p2, sizeof(p1));
		CHECK_EQ(gi(buf, sizeof(buf), 0, NULL, 0), (ssize_t)sizeof(buf));
	}
}

/* The vector after environ (Enarx's crt0stack walk) has the image; the
 * kernel's own copy (/proc/self/auxv) keeps the host's, which user space
 * cannot change; a child of fork keeps the image and calls through it. */
TEST(stack_auxv_from_environ_and_fork)
{
	const uint8_t *img = installed_image();
	char **p = environ;
	Elf64_auxv_t *av;
	uint64_t kernel_value = 0, pair[2];
	int status, fd;
	pid_t pid;

	while (*p)
		p++;
	for (av = (Elf64_auxv_t *)(p + 1); av->a_type != AT_NULL; av++)
		if (av->a_type == AT_SYSINFO_EHDR)
			break;
	CHECK_EQ(av->a_type, AT_SYSINFO_EHDR);
	CHECK_EQ(av->a_un.a_val, (uint64_t)(uintptr_t)img);

	fd = open("/proc/self/auxv", O_RDONLY);
	CHECK_GE(fd, 0);
	while (read(fd, pair, sizeof(pair)) == sizeof(pair) && pair[0] != AT_NULL)
		if (pair[0] == AT_SYSINFO_EHDR)
			kernel_value = pair[1];
	close(fd);
	CHECK_EQ(kernel_value, (uint64_t)(uintptr_t)sgxrt_vdso_host());

	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		struct timespec t;
		clock_gettime_t cg;
		int ok = getauxval(AT_SYSINFO_EHDR) == (unsigned long)(uintptr_t)img &&
			 lookup_sysv((const uint8_t *)getauxval(AT_SYSINFO_EHDR),
				     "__vdso_sgx_enter_enclave") > 0;

		cg = (clock_gettime_t)(void *)(img + ((const Elf64_Sym *)dyn_ptr(img, DT_SYMTAB))
						       [lookup_sysv(img, "__vdso_clock_gettime")].st_value);
		ok = ok && cg(CLOCK_MONOTONIC, &t) == 0 && t.tv_sec + t.tv_nsec > 0;
		_exit(ok ? 0 : 1);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK_EQ(status, 0);
}

/* A getauxval() made of sgxrt_vdso_getauxval() installs on first use and
 * passes other types through. */
TEST(getauxval_for_a_preload)
{
	CHECK(sgxrt_vdso_image(NULL) == NULL);
	CHECK_EQ(sgxrt_vdso_getauxval(AT_PAGESZ), (unsigned long)getpagesize());
	CHECK(sgxrt_vdso_image(NULL) == NULL);
	CHECK_EQ(sgxrt_vdso_getauxval(AT_SYSINFO_EHDR), (unsigned long)(uintptr_t)sgxrt_vdso_image(NULL));
	CHECK(sgxrt_vdso_image(NULL) != NULL);
	errno = 0;
	CHECK_EQ(sgxrt_vdso_getauxval(0x7fff), 0);
	CHECK_EQ(errno, ENOENT);
}

static void enter_through(vdso_enter_t fn)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;

	rt_build(core, 16, 0, 0, &e);
	for (unsigned int tcs = 0; tcs < SAMPLE_NR_TCS; tcs++) {
		memset(&run, 0, sizeof(run));
		run.tcs = rt_tcs(&e, tcs);
		run.user_handler = (uint64_t)(uintptr_t)rt_capture;
		CHECK_EQ(vdso_call(SAMPLE_OP_ADD, 40 + tcs, 2, SGX_ENCLU_EENTER, 0, 0, &run, fn), 0);
		CHECK_EQ(run.function, SGX_ENCLU_EEXIT);
		CHECK_EQ(run.user_data, 42 + tcs);
		/* Without a handler: returns at EEXIT. */
		memset(&run, 0, sizeof(run));
		run.tcs = rt_tcs(&e, tcs);
		CHECK_EQ(vdso_call(SAMPLE_OP_TCS_INDEX, 0, 0, SGX_ENCLU_EENTER, 0, 0, &run, fn), 0);
		CHECK_EQ(run.function, SGX_ENCLU_EEXIT);
	}
	/* The entry's own checks, as the kernel's. */
	memset(&run, 0, sizeof(run));
	run.tcs = rt_tcs(&e, 0);
	CHECK_EQ(vdso_call(0, 0, 0, SGX_ENCLU_EEXIT, 0, 0, &run, fn), -EINVAL);
	run.reserved[3] = 1;
	CHECK_EQ(vdso_call(0, 0, 0, SGX_ENCLU_EENTER, 0, 0, &run, fn), -EINVAL);
	rt_destroy(&e);
	rt_finish(core);
}

/* The selftests' loader: getauxval, PT_DYNAMIC, DT_HASH, then an ECALL of
 * the sample enclave through what it found. */
TEST(selftests_lookup_then_enclave_entry)
{
	const uint8_t *img;
	int i;

	(void)installed_image();
	img = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	i = lookup_sysv(img, "__vdso_sgx_enter_enclave");
	CHECK_GT(i, 0);
	enter_through((vdso_enter_t)(void *)(img + ((const Elf64_Sym *)dyn_ptr(img, DT_SYMTAB))[i].st_value));
}

/* Intel's loader: getauxval, then the section headers. */
TEST(intel_lookup_then_enclave_entry)
{
	const uint8_t *img;
	const Elf64_Shdr *ds;
	int i;

	(void)installed_image();
	img = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	i = lookup_shdr(img, "__vdso_sgx_enter_enclave");
	CHECK_GT(i, 0);
	ds = section(img, ".dynsym", SHT_DYNSYM);
	enter_through((vdso_enter_t)(void *)(img + ((const Elf64_Sym *)(img + ds->sh_offset))[i].st_value));
}

/* Fortanix's loader: a weak reference the dynamic linker binds; the
 * stand-in linux-vdso.so.1 it was linked against is never loaded (the
 * dynamic linker takes the kernel's vDSO for that name), and the
 * definition it binds to is the runtime's. */
TEST(weak_reference_binds_to_the_runtime)
{
	FILE *maps;
	char line[512];
	vdso_enter_t fn = (vdso_enter_t)vdso_weakref_enter();

	CHECK(fn != NULL);
	CHECK(fn == (vdso_enter_t)sgxrt_enter_enclave);
	maps = fopen("/proc/self/maps", "r");
	CHECK(maps != NULL);
	while (fgets(line, sizeof(line), maps))
		CHECK_MSG(!strstr(line, "/linux-vdso.so.1"), "stand-in loaded: %s", line);
	fclose(maps);
	enter_through(fn);
}
