/*
 * vdso.c: the runtime's vDSO image (rt_vdso.h): a reader of the host's
 * vDSO, a writer of an ELF shared object that exports the same symbols
 * and __vdso_sgx_enter_enclave, and the rewrite of AT_SYSINFO_EHDR in the
 * auxiliary vector on the stack.
 *
 * The image is laid out as the kernel lays out its vDSO (every file
 * offset equal to its address, the first PT_LOAD at 0), so that each
 * parser loaders use finds it: the kernel selftests' (PT_DYNAMIC, then
 * DT_SYMTAB, DT_STRTAB and DT_HASH), musl's and glibc's (DT_GNU_HASH or
 * DT_HASH, DT_VERSYM and DT_VERDEF), Intel's and Open Enclave's (the
 * section headers through e_shstrndx, .dynsym and .dynstr by name) and
 * Enarx's (the first SHT_STRTAB and the first SHT_DYNSYM: .dynstr comes
 * before .shstrtab).  Sections, in order:
 *
 *   .hash .gnu.hash .dynsym .dynstr .gnu.version .gnu.version_d .dynamic
 *   .text (one stub per distinct function) .rodata (each stub's target)
 *   .shstrtab, then the section header table, all inside the mapping.
 *
 * A stub is "endbr64; jmp *target(%rip)": registers, flags and the stack
 * reach the target as the caller left them.  Aliases (clock_gettime and
 * __vdso_clock_gettime) share one stub, as they share one address in the
 * host's vDSO.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sgxemu/rt_enclu.h"
#include "sgxemu/rt_vdso.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

#define MAX_SYMS 64
#define MAX_VERDEFS 16
#define MAX_VERNAMES 4
#define MAX_NAME 128
#define STUB_SIZE 16
#define STUB_CODE 10 /* endbr64 (4) + jmp *rel32(%rip) (6) */
#define ENTER_NAME "__vdso_sgx_enter_enclave"
#define ENTER_VERSION "LINUX_2.6"
#define DEFAULT_SONAME "linux-vdso.so.1"

/* glibc: the stack address of argc, where the kernel's vector starts. */
extern void *__libc_stack_end;
/* glibc's getauxval() under its other name, so that a preloaded
 * getauxval() made of sgxrt_vdso_getauxval() does not call itself. */
extern unsigned long __getauxval(unsigned long type);

/* --- Reading the host's vDSO ------------------------------------------- */

struct vsym {
	const char *name;
	unsigned char info, other;
	bool abs; /* SHN_ABS (the version's own symbol): value as it is */
	uint64_t value; /* abs: the value; else the target's address */
	uint16_t versym;
	uint32_t gnu_hash;
};

struct vverdef {
	uint16_t flags, ndx;
	unsigned int cnt;
	const char *names[MAX_VERNAMES];
};

struct vmodel {
	const char *soname;
	unsigned int nsyms; /* without the null symbol */
	struct vsym syms[MAX_SYMS + 1];
	unsigned int nverdefs;
	struct vverdef verdefs[MAX_VERDEFS + 1];
};

/* The host's image as far as its PT_LOAD covers it. */
struct vreader {
	const uint8_t *base;
	uint64_t load_vaddr, size;
};

static const void *vr_at(const struct vreader *r, uint64_t vaddr, uint64_t len)
{
	if (vaddr < r->load_vaddr || len > r->size || vaddr - r->load_vaddr > r->size - len)
		return NULL;
	return r->base + (vaddr - r->load_vaddr);
}

static const char *vr_str(const struct vreader *r, const char *strtab, uint64_t strsz, uint64_t off)
{
	if (off >= strsz || !memchr(strtab + off, 0, strsz - off < MAX_NAME ? strsz - off : MAX_NAME))
		return NULL;
	return strtab + off;
}

static uint32_t sysv_hash(const char *s)
{
	uint32_t h = 0, g;

	while (*s) {
		h = (h << 4) + (uint8_t)*s++;
		g = h & 0xf0000000U;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;

	while (*s)
		h = h * 33 + (uint8_t)*s++;
	return h;
}

/* The number of symbols a DT_GNU_HASH table covers: past the last chain's
 * end (the table has no count of its own). */
static int gnu_hash_count(const struct vreader *r, uint64_t vaddr, uint32_t *count)
{
	const uint32_t *hdr = vr_at(r, vaddr, 16), *buckets;
	uint32_t nbuckets, symoffset, bloom, last = 0;
	uint64_t chain_at;

	if (!hdr)
		return -ENOEXEC;
	nbuckets = hdr[0], symoffset = hdr[1], bloom = hdr[2];
	if (nbuckets > 4096 || bloom > 4096)
		return -ENOEXEC;
	buckets = vr_at(r, vaddr + 16 + (uint64_t)bloom * 8, (uint64_t)nbuckets * 4);
	if (!buckets)
		return -ENOEXEC;
	for (uint32_t i = 0; i < nbuckets; i++)
		if (buckets[i] > last)
			last = buckets[i];
	if (last < symoffset) {
		*count = symoffset;
		return 0;
	}
	chain_at = vaddr + 16 + (uint64_t)bloom * 8 + (uint64_t)nbuckets * 4;
	for (;;) {
		const uint32_t *c = vr_at(r, chain_at + (uint64_t)(last - symoffset) * 4, 4);

		if (!c || last > MAX_SYMS + 1)
			return -ENOEXEC;
		if (*c & 1)
			break;
		last++;
	}
	*count = last + 1;
	return 0;
}

static int read_verdefs(const struct vreader *r, const char *strtab, uint64_t strsz,
			uint64_t vaddr, uint64_t num, struct vmodel *m)
{
	uint64_t at = vaddr;

	if (num > MAX_VERDEFS)
		return -ENOEXEC;
	for (uint64_t i = 0; i < num; i++) {
		const Elf64_Verdef *vd = vr_at(r, at, sizeof(*vd));
		struct vverdef *out = &m->verdefs[m->nverdefs];
		uint64_t aux_at;

		if (!vd || vd->vd_version != VER_DEF_CURRENT || vd->vd_cnt == 0 ||
		    vd->vd_cnt > MAX_VERNAMES)
			return -ENOEXEC;
		out->flags = vd->vd_flags;
		out->ndx = vd->vd_ndx;
		out->cnt = vd->vd_cnt;
		aux_at = at + vd->vd_aux;
		for (unsigned int j = 0; j < vd->vd_cnt; j++) {
			const Elf64_Verdaux *va = vr_at(r, aux_at, sizeof(*va));

			if (!va || !(out->names[j] = vr_str(r, strtab, strsz, va->vda_name)))
				return -ENOEXEC;
			aux_at += va->vda_next;
		}
		m->nverdefs++;
		if (!vd->vd_next)
			break;
		at += vd->vd_next;
	}
	return 0;
}

/* Reads the dynamic symbols (defined ones), their versions and the
 * version definitions of the ELF image at base. */
static int read_host(const void *base, struct vmodel *m)
{
	const Elf64_Ehdr *eh = base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Sym *symtab;
	const uint16_t *versym = NULL;
	const char *strtab;
	uint64_t d_symtab = 0, d_strtab = 0, d_strsz = 0, d_hash = 0, d_gnu_hash = 0;
	uint64_t d_versym = 0, d_verdef = 0, d_verdefnum = 0, d_soname = 0;
	bool have_soname = false, have_load = false;
	struct vreader r = { base, 0, 0 };
	uint32_t count = 0;
	int ret;

	memset(m, 0, sizeof(*m));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phnum == 0 || eh->e_phnum > 16)
		return -ENOEXEC;
	ph = (const Elf64_Phdr *)((const uint8_t *)base + eh->e_phoff);
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			r.load_vaddr = ph[i].p_vaddr - ph[i].p_offset;
			r.size = ph[i].p_offset + ph[i].p_memsz;
			have_load = true;
		}
	}
	for (unsigned int i = 0; i < eh->e_phnum && have_load; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = vr_at(&r, ph[i].p_vaddr, ph[i].p_memsz);
	if (!dyn)
		return -ENOEXEC;
	for (unsigned int i = 0; i < 64 && dyn[i].d_tag != DT_NULL; i++) {
		uint64_t v = dyn[i].d_un.d_ptr;

		switch (dyn[i].d_tag) {
		case DT_SYMTAB: d_symtab = v; break;
		case DT_STRTAB: d_strtab = v; break;
		case DT_STRSZ: d_strsz = v; break;
		case DT_HASH: d_hash = v; break;
		case DT_GNU_HASH: d_gnu_hash = v; break;
		case DT_VERSYM: d_versym = v; break;
		case DT_VERDEF: d_verdef = v; break;
		case DT_VERDEFNUM: d_verdefnum = v; break;
		case DT_SONAME: d_soname = v, have_soname = true; break;
		}
	}
	strtab = vr_at(&r, d_strtab, d_strsz);
	if (!d_symtab || !strtab || d_strsz == 0)
		return -ENOEXEC;
	if (d_hash) {
		const uint32_t *h = vr_at(&r, d_hash, 8);

		if (!h)
			return -ENOEXEC;
		count = h[1];
	} else if (d_gnu_hash) {
		ret = gnu_hash_count(&r, d_gnu_hash, &count);
		if (ret)
			return ret;
	}
	if (count == 0 || count > MAX_SYMS + 1)
		return -ENOEXEC;
	symtab = vr_at(&r, d_symtab, (uint64_t)count * sizeof(Elf64_Sym));
	if (!symtab)
		return -ENOEXEC;
	if (d_versym && !(versym = vr_at(&r, d_versym, (uint64_t)count * 2)))
		return -ENOEXEC;
	m->soname = have_soname ? vr_str(&r, strtab, d_strsz, d_soname) : DEFAULT_SONAME;
	if (!m->soname)
		return -ENOEXEC;
	for (uint32_t i = 1; i < count; i++) {
		const Elf64_Sym *s = &symtab[i];
		struct vsym *out = &m->syms[m->nsyms + 1];

		if (s->st_shndx == SHN_UNDEF)
			continue;
		if (!(out->name = vr_str(&r, strtab, d_strsz, s->st_name)) || !*out->name)
			return -ENOEXEC;
		out->info = s->st_info;
		out->other = s->st_other;
		out->abs = s->st_shndx == SHN_ABS;
		out->value = out->abs ? s->st_value :
			     (uint64_t)(uintptr_t)base + s->st_value - r.load_vaddr;
		out->versym = versym ? versym[i] : VER_NDX_GLOBAL;
		m->nsyms++;
	}
	if (d_verdef) {
		ret = read_verdefs(&r, strtab, d_strsz, d_verdef, d_verdefnum, m);
		if (ret)
			return ret;
	}
	return 0;
}

/* Adds __vdso_sgx_enter_enclave in LINUX_2.6 (a version definition of its
 * own if the host's vDSO has none of that name). */
static int add_enter(struct vmodel *m, const void *enter)
{
	struct vsym *s;
	uint16_t ndx = 0, max_ndx = VER_NDX_GLOBAL;

	for (unsigned int i = 1; i <= m->nsyms; i++)
		if (!strcmp(m->syms[i].name, ENTER_NAME))
			return -EEXIST;
	if (m->nsyms >= MAX_SYMS)
		return -ENOEXEC;
	for (unsigned int i = 0; i < m->nverdefs; i++) {
		if (m->verdefs[i].ndx > max_ndx)
			max_ndx = m->verdefs[i].ndx;
		if (!(m->verdefs[i].flags & VER_FLG_BASE) &&
		    !strcmp(m->verdefs[i].names[0], ENTER_VERSION))
			ndx = m->verdefs[i].ndx;
	}
	if (!ndx) {
		struct vverdef *vd;

		if (m->nverdefs == 0) {
			/* The file's own version entry comes first. */
			vd = &m->verdefs[m->nverdefs++];
			vd->flags = VER_FLG_BASE;
			vd->ndx = VER_NDX_GLOBAL;
			vd->cnt = 1;
			vd->names[0] = m->soname;
		}
		if (m->nverdefs >= MAX_VERDEFS + 1)
			return -ENOEXEC;
		ndx = ++max_ndx;
		vd = &m->verdefs[m->nverdefs++];
		vd->flags = 0;
		vd->ndx = ndx;
		vd->cnt = 1;
		vd->names[0] = ENTER_VERSION;
	}
	s = &m->syms[++m->nsyms];
	s->name = ENTER_NAME;
	s->info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
	s->other = STV_DEFAULT;
	s->abs = false;
	s->value = (uint64_t)(uintptr_t)enter;
	s->versym = ndx;
	return 0;
}

/* --- Writing the image ------------------------------------------------- */

enum {
	SEC_NULL,
	SEC_HASH,
	SEC_GNU_HASH,
	SEC_DYNSYM,
	SEC_DYNSTR,
	SEC_VERSYM,
	SEC_VERDEF,
	SEC_DYNAMIC,
	SEC_TEXT,
	SEC_RODATA,
	SEC_SHSTRTAB,
	NR_SECS,
};

static const char *const sec_names[NR_SECS] = {
	"", ".hash", ".gnu.hash", ".dynsym", ".dynstr", ".gnu.version", ".gnu.version_d",
	".dynamic", ".text", ".rodata", ".shstrtab",
};

#define NR_DYN 12
#define BLOOM_WORDS 1
#define BLOOM_SHIFT 6

struct layout {
	uint64_t off[NR_SECS], size[NR_SECS];
	uint64_t shoff, total;
	uint32_t nbucket_sysv, nbucket_gnu;
	unsigned int nstubs;
	unsigned int stub_of[MAX_SYMS + 1]; /* symbol -> stub */
	uint64_t stub_target[MAX_SYMS + 1];
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* .dynstr: the names, each once; its offset of s, appended if new. */
struct strtab {
	char *buf; /* NULL while sizing */
	uint64_t len;
	const char *seen[MAX_SYMS + MAX_VERDEFS * MAX_VERNAMES + 2];
	uint32_t seen_off[MAX_SYMS + MAX_VERDEFS * MAX_VERNAMES + 2];
	unsigned int nseen;
};

static uint32_t str_add(struct strtab *t, const char *s)
{
	uint32_t off;

	for (unsigned int i = 0; i < t->nseen; i++)
		if (!strcmp(t->seen[i], s))
			return t->seen_off[i];
	off = (uint32_t)t->len;
	if (t->buf)
		memcpy(t->buf + off, s, strlen(s) + 1);
	t->len += strlen(s) + 1;
	t->seen[t->nseen] = s;
	t->seen_off[t->nseen++] = off;
	return off;
}

static void str_init(struct strtab *t, char *buf)
{
	memset(t, 0, sizeof(*t));
	t->buf = buf;
	if (buf)
		buf[0] = 0;
	t->len = 1;
}

static uint64_t dynstr_size(const struct vmodel *m)
{
	struct strtab t;

	str_init(&t, NULL);
	str_add(&t, m->soname);
	for (unsigned int i = 1; i <= m->nsyms; i++)
		str_add(&t, m->syms[i].name);
	for (unsigned int i = 0; i < m->nverdefs; i++)
		for (unsigned int j = 0; j < m->verdefs[i].cnt; j++)
			str_add(&t, m->verdefs[i].names[j]);
	return t.len;
}

/* Orders the symbols by GNU hash bucket (the table needs each bucket's
 * symbols together, in bucket order) and gives each function its stub. */
static void plan(struct vmodel *m, struct layout *l)
{
	uint64_t at, shstr = 1;

	memset(l, 0, sizeof(*l));
	l->nbucket_gnu = m->nsyms / 4 + 1;
	l->nbucket_sysv = m->nsyms / 2 + 1;
	for (unsigned int i = 1; i <= m->nsyms; i++)
		m->syms[i].gnu_hash = gnu_hash(m->syms[i].name);
	for (unsigned int i = 2; i <= m->nsyms; i++) {
		struct vsym s = m->syms[i];
		unsigned int j = i;

		while (j > 1 && m->syms[j - 1].gnu_hash % l->nbucket_gnu > s.gnu_hash % l->nbucket_gnu) {
			m->syms[j] = m->syms[j - 1];
			j--;
		}
		m->syms[j] = s;
	}
	for (unsigned int i = 1; i <= m->nsyms; i++) {
		unsigned int k;

		if (m->syms[i].abs)
			continue;
		for (k = 0; k < l->nstubs && l->stub_target[k] != m->syms[i].value; k++)
			;
		if (k == l->nstubs)
			l->stub_target[l->nstubs++] = m->syms[i].value;
		l->stub_of[i] = k;
	}

	l->size[SEC_HASH] = (2 + l->nbucket_sysv + (m->nsyms + 1)) * 4;
	l->size[SEC_GNU_HASH] = 16 + BLOOM_WORDS * 8 + (l->nbucket_gnu + m->nsyms) * 4;
	l->size[SEC_DYNSYM] = (m->nsyms + 1) * sizeof(Elf64_Sym);
	l->size[SEC_DYNSTR] = dynstr_size(m);
	l->size[SEC_VERSYM] = (m->nsyms + 1) * 2;
	for (unsigned int i = 0; i < m->nverdefs; i++)
		l->size[SEC_VERDEF] += sizeof(Elf64_Verdef) + m->verdefs[i].cnt * sizeof(Elf64_Verdaux);
	l->size[SEC_DYNAMIC] = NR_DYN * sizeof(Elf64_Dyn);
	l->size[SEC_TEXT] = (uint64_t)l->nstubs * STUB_SIZE;
	l->size[SEC_RODATA] = (uint64_t)l->nstubs * 8;
	for (unsigned int i = 1; i < NR_SECS; i++)
		shstr += strlen(sec_names[i]) + 1;
	l->size[SEC_SHSTRTAB] = shstr;

	at = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	for (unsigned int i = 1; i < NR_SECS; i++) {
		at = align_up(at, i == SEC_TEXT ? 16 : 8);
		l->off[i] = at;
		at += l->size[i];
	}
	l->shoff = align_up(at, 8);
	l->total = align_up(l->shoff + NR_SECS * sizeof(Elf64_Shdr), (uint64_t)getpagesize());
}

static void write_hashes(uint8_t *img, const struct vmodel *m, const struct layout *l)
{
	uint32_t *h = (uint32_t *)(img + l->off[SEC_HASH]);
	uint32_t *bucket = h + 2, *chain = h + 2 + l->nbucket_sysv;
	uint32_t *g = (uint32_t *)(img + l->off[SEC_GNU_HASH]);
	uint64_t *bloom = (uint64_t *)(g + 4);
	uint32_t *gbucket = (uint32_t *)(bloom + BLOOM_WORDS), *gchain = gbucket + l->nbucket_gnu;

	/* SysV: each bucket's chain, newest first. */
	h[0] = l->nbucket_sysv;
	h[1] = m->nsyms + 1;
	for (unsigned int i = 1; i <= m->nsyms; i++) {
		uint32_t b = sysv_hash(m->syms[i].name) % l->nbucket_sysv;

		chain[i] = bucket[b];
		bucket[b] = i;
	}
	/* GNU: symbols from 1, grouped by bucket; bit 0 ends a chain. */
	g[0] = l->nbucket_gnu;
	g[1] = 1;
	g[2] = BLOOM_WORDS;
	g[3] = BLOOM_SHIFT;
	for (unsigned int i = 1; i <= m->nsyms; i++) {
		uint32_t hv = m->syms[i].gnu_hash, b = hv % l->nbucket_gnu;
		bool last = i == m->nsyms || m->syms[i + 1].gnu_hash % l->nbucket_gnu != b;

		bloom[(hv / 64) % BLOOM_WORDS] |= (1ULL << (hv % 64)) | (1ULL << ((hv >> BLOOM_SHIFT) % 64));
		if (!gbucket[b])
			gbucket[b] = i;
		gchain[i - 1] = (hv & ~1U) | (last ? 1U : 0U);
	}
}

static void write_symbols(uint8_t *img, const struct vmodel *m, const struct layout *l)
{
	Elf64_Sym *sym = (Elf64_Sym *)(img + l->off[SEC_DYNSYM]);
	uint16_t *versym = (uint16_t *)(img + l->off[SEC_VERSYM]);
	uint8_t *vd = img + l->off[SEC_VERDEF];
	struct strtab t;

	str_init(&t, (char *)img + l->off[SEC_DYNSTR]);
	str_add(&t, m->soname);
	versym[0] = VER_NDX_LOCAL;
	for (unsigned int i = 1; i <= m->nsyms; i++) {
		const struct vsym *s = &m->syms[i];

		sym[i].st_name = str_add(&t, s->name);
		sym[i].st_info = s->info;
		sym[i].st_other = s->other;
		if (s->abs) {
			sym[i].st_shndx = SHN_ABS;
			sym[i].st_value = s->value;
		} else {
			sym[i].st_shndx = SEC_TEXT;
			sym[i].st_value = l->off[SEC_TEXT] + (uint64_t)l->stub_of[i] * STUB_SIZE;
			sym[i].st_size = STUB_CODE;
		}
		versym[i] = s->versym;
	}
	for (unsigned int i = 0; i < m->nverdefs; i++) {
		const struct vverdef *v = &m->verdefs[i];
		Elf64_Verdef *d = (Elf64_Verdef *)vd;
		Elf64_Verdaux *a = (Elf64_Verdaux *)(d + 1);

		d->vd_version = VER_DEF_CURRENT;
		d->vd_flags = v->flags;
		d->vd_ndx = v->ndx;
		d->vd_cnt = (uint16_t)v->cnt;
		d->vd_hash = sysv_hash(v->names[0]);
		d->vd_aux = sizeof(*d);
		d->vd_next = i + 1 < m->nverdefs ? (uint32_t)(sizeof(*d) + v->cnt * sizeof(*a)) : 0;
		for (unsigned int j = 0; j < v->cnt; j++) {
			a[j].vda_name = str_add(&t, v->names[j]);
			a[j].vda_next = j + 1 < v->cnt ? sizeof(*a) : 0;
		}
		vd += sizeof(*d) + v->cnt * sizeof(*a);
	}
}

static void write_dynamic(uint8_t *img, const struct vmodel *m, const struct layout *l)
{
	Elf64_Dyn *d = (Elf64_Dyn *)(img + l->off[SEC_DYNAMIC]);
	unsigned int n = 0;

	/* The soname is the first string after the empty one. */
	d[n].d_tag = DT_SONAME, d[n++].d_un.d_val = 1;
	d[n].d_tag = DT_HASH, d[n++].d_un.d_ptr = l->off[SEC_HASH];
	d[n].d_tag = DT_GNU_HASH, d[n++].d_un.d_ptr = l->off[SEC_GNU_HASH];
	d[n].d_tag = DT_STRTAB, d[n++].d_un.d_ptr = l->off[SEC_DYNSTR];
	d[n].d_tag = DT_SYMTAB, d[n++].d_un.d_ptr = l->off[SEC_DYNSYM];
	d[n].d_tag = DT_STRSZ, d[n++].d_un.d_val = l->size[SEC_DYNSTR];
	d[n].d_tag = DT_SYMENT, d[n++].d_un.d_val = sizeof(Elf64_Sym);
	if (m->nverdefs) {
		d[n].d_tag = DT_VERDEF, d[n++].d_un.d_ptr = l->off[SEC_VERDEF];
		d[n].d_tag = DT_VERDEFNUM, d[n++].d_un.d_val = m->nverdefs;
	}
	d[n].d_tag = DT_VERSYM, d[n++].d_un.d_ptr = l->off[SEC_VERSYM];
	d[n].d_tag = DT_FLAGS, d[n++].d_un.d_val = DF_SYMBOLIC | DF_BIND_NOW;
	d[n].d_tag = DT_NULL, d[n++].d_un.d_val = 0;
}

static void write_text(uint8_t *img, const struct layout *l)
{
	for (unsigned int k = 0; k < l->nstubs; k++) {
		uint8_t *stub = img + l->off[SEC_TEXT] + (uint64_t)k * STUB_SIZE;
		uint64_t slot = l->off[SEC_RODATA] + (uint64_t)k * 8;
		int32_t rel = (int32_t)(slot - (l->off[SEC_TEXT] + (uint64_t)k * STUB_SIZE + STUB_CODE));
		static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

		memset(stub, 0xcc, STUB_SIZE); /* int3 after the jump */
		memcpy(stub, endbr64, 4);
		stub[4] = 0xff; /* jmp *rel32(%rip) */
		stub[5] = 0x25;
		memcpy(stub + 6, &rel, 4);
		memcpy(img + slot, &l->stub_target[k], 8);
	}
}

static void write_headers(uint8_t *img, const struct vmodel *m, const struct layout *l)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(eh + 1);
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + l->shoff);
	char *shstr = (char *)img + l->off[SEC_SHSTRTAB];
	uint32_t name_off = 1;
	static const uint32_t types[NR_SECS] = {
		SHT_NULL,   SHT_HASH,	 SHT_GNU_HASH, SHT_DYNSYM,   SHT_STRTAB, SHT_GNU_versym,
		SHT_GNU_verdef, SHT_DYNAMIC, SHT_PROGBITS, SHT_PROGBITS, SHT_STRTAB,
	};

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_ident[EI_OSABI] = ELFOSABI_SYSV;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_shoff = l->shoff;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = NR_SECS;
	eh->e_shstrndx = SEC_SHSTRTAB;

	ph[0].p_type = PT_LOAD;
	ph[0].p_flags = PF_R | PF_X;
	ph[0].p_filesz = ph[0].p_memsz = l->total;
	ph[0].p_align = (uint64_t)getpagesize();
	ph[1].p_type = PT_DYNAMIC;
	ph[1].p_flags = PF_R;
	ph[1].p_offset = ph[1].p_vaddr = ph[1].p_paddr = l->off[SEC_DYNAMIC];
	ph[1].p_filesz = ph[1].p_memsz = l->size[SEC_DYNAMIC];
	ph[1].p_align = 8;

	shstr[0] = 0;
	for (unsigned int i = 1; i < NR_SECS; i++) {
		sh[i].sh_name = name_off;
		memcpy(shstr + name_off, sec_names[i], strlen(sec_names[i]) + 1);
		name_off += (uint32_t)strlen(sec_names[i]) + 1;
		sh[i].sh_type = types[i];
		sh[i].sh_offset = l->off[i];
		sh[i].sh_addr = i == SEC_SHSTRTAB ? 0 : l->off[i];
		sh[i].sh_size = l->size[i];
		sh[i].sh_flags = i == SEC_SHSTRTAB ? 0 : SHF_ALLOC;
		sh[i].sh_addralign = i == SEC_TEXT ? 16 : i == SEC_DYNSTR || i == SEC_SHSTRTAB ? 1 : 8;
	}
	sh[SEC_TEXT].sh_flags |= SHF_EXECINSTR;
	sh[SEC_VERSYM].sh_addralign = 2;
	sh[SEC_HASH].sh_entsize = 4;
	sh[SEC_DYNSYM].sh_entsize = sizeof(Elf64_Sym);
	sh[SEC_VERSYM].sh_entsize = 2;
	sh[SEC_DYNAMIC].sh_entsize = sizeof(Elf64_Dyn);
	sh[SEC_RODATA].sh_entsize = 8;
	sh[SEC_HASH].sh_link = sh[SEC_GNU_HASH].sh_link = SEC_DYNSYM;
	sh[SEC_VERSYM].sh_link = SEC_DYNSYM;
	sh[SEC_DYNSYM].sh_link = SEC_DYNSTR;
	sh[SEC_DYNSYM].sh_info = 1; /* the first non-local symbol */
	sh[SEC_VERDEF].sh_link = SEC_DYNSTR;
	sh[SEC_VERDEF].sh_info = m->nverdefs;
	sh[SEC_DYNAMIC].sh_link = SEC_DYNSTR;
}

int sgxrt_vdso_build(const void *host, const void *enter, void **image, size_t *size)
{
	static struct vmodel m; /* build_lock */
	static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
	struct layout l;
	uint8_t *img;
	int ret;

	if (!host || !enter || !image || !size)
		return -EINVAL;
	pthread_mutex_lock(&build_lock);
	ret = read_host(host, &m);
	if (!ret)
		ret = add_enter(&m, enter);
	if (ret)
		goto out;
	plan(&m, &l);
	img = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (img == MAP_FAILED) {
		ret = -ENOMEM;
		goto out;
	}
	write_headers(img, &m, &l);
	write_hashes(img, &m, &l);
	write_symbols(img, &m, &l);
	write_dynamic(img, &m, &l);
	write_text(img, &l);
	if (mprotect(img, l.total, PROT_READ | PROT_EXEC)) {
		ret = -errno;
		munmap(img, l.total);
		goto out;
	}
	(void)prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, img, l.total, "sgxemu-vdso");
	*image = img;
	*size = l.total;
out:
	pthread_mutex_unlock(&build_lock);
	return ret;
}

/* --- Making the process see it ----------------------------------------- */

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static void *_Atomic installed; /* the image, once the vector points at it */
static size_t installed_size;
static const void *host_vdso;

/* The auxiliary vector the kernel put on the stack: after argc, argv and
 * its NULL, the environment and its NULL (what the program's environ
 * pointed at before any setenv()). */
static Elf64_auxv_t *stack_auxv(void)
{
	unsigned long *sp = __libc_stack_end;
	char **p;

	if (!sp || sp[0] > (1UL << 24))
		return NULL;
	p = (char **)(sp + 1);
	if (p[sp[0]])
		return NULL;
	p += sp[0] + 1;
	while (*p)
		p++;
	return (Elf64_auxv_t *)(p + 1);
}

int sgxrt_vdso_install(void)
{
	Elf64_auxv_t *av, *ehdr = NULL;
	void *img;
	size_t size;
	int ret;

	if (atomic_load(&installed))
		return 0;
	pthread_mutex_lock(&install_lock);
	if (atomic_load(&installed)) {
		ret = 0;
		goto out;
	}
	host_vdso = (const void *)__getauxval(AT_SYSINFO_EHDR);
	av = stack_auxv();
	for (unsigned int i = 0; av && i < 256 && av[i].a_type != AT_NULL; i++)
		if (av[i].a_type == AT_SYSINFO_EHDR)
			ehdr = &av[i];
	/* The entry must be the one getauxval() reads. */
	if (!host_vdso || !ehdr || ehdr->a_un.a_val != (uint64_t)(uintptr_t)host_vdso) {
		ret = -ENOENT;
		goto out;
	}
	ret = sgxrt_vdso_build(host_vdso, (const void *)sgxrt_enter_enclave, &img, &size);
	if (ret)
		goto out;
	ehdr->a_un.a_val = (uint64_t)(uintptr_t)img;
	if (__getauxval(AT_SYSINFO_EHDR) != (unsigned long)(uintptr_t)img) {
		ehdr->a_un.a_val = (uint64_t)(uintptr_t)host_vdso;
		munmap(img, size);
		ret = -ENOTSUP;
		goto out;
	}
	installed_size = size;
	atomic_store(&installed, img);
out:
	pthread_mutex_unlock(&install_lock);
	return ret;
}

const void *sgxrt_vdso_image(size_t *size)
{
	void *img = atomic_load(&installed);

	if (img && size)
		*size = installed_size;
	return img;
}

const void *sgxrt_vdso_host(void)
{
	if (atomic_load(&installed))
		return host_vdso;
	return (const void *)__getauxval(AT_SYSINFO_EHDR);
}

unsigned long sgxrt_vdso_getauxval(unsigned long type)
{
	if (type == AT_SYSINFO_EHDR) {
		void *img = atomic_load(&installed);

		if (!img && sgxrt_vdso_install() == 0)
			img = atomic_load(&installed);
		if (img)
			return (unsigned long)(uintptr_t)img;
	}
	return __getauxval(type);
}
