/*
 * machine.c: the emulated machine's model.
 *
 * Creation lays out the EPC sections (each a range of this process's
 * address space that stands for processor-reserved memory), an EPCM entry
 * per frame, the CPUID leaf 0x12 values, IA32_FEAT_CTL, the launch-control
 * MSRs, and the fused keys.  The leaves themselves live in build.c,
 * einit.c, keys.c and paging.c.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The reset value of IA32_SGXLEPUBKEYHASH on parts without flexible launch
 * control: the hash of Intel's launch enclave signing key. */
static const uint64_t intel_lepubkeyhash[4] = {
	0xa6053e051270b7acULL,
	0x6cfbe8ba8b3b413dULL,
	0xc4916d99f2b3735dULL,
	0xd4f8c05909f9bb3bULL,
};

static _Atomic uint64_t machine_generation;

void sgx_cpu_config_default(struct sgx_cpu_config *cfg, uint64_t epc_bytes)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_sections = 1;
	cfg->sections[0].size = epc_bytes & ~(SGX_PAGE_SIZE - 1);
	cfg->sections[0].node = 0;
	/* Only what the model implements (see struct sgx_cpu_config). */
	cfg->sgx2 = false;
	cfg->miscselect_valid = SGX_MISC_EXINFO;
	cfg->max_enclave_size_32 = 0;
	cfg->max_enclave_size_64 = 36;
	cfg->attributes_valid = SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT |
				SGX_ATTR_PROVISIONKEY | SGX_ATTR_EINITTOKENKEY | SGX_ATTR_KSS;
	cfg->xfrm_valid = SGX_XFRM_LEGACY | SGX_XFRM_AVX | SGX_XFRM_AVX512;
	cfg->lc_mode = SGX_LC_WRITABLE;
	memcpy(cfg->lepubkeyhash, intel_lepubkeyhash, sizeof(cfg->lepubkeyhash));
	cfg->seeded = false;
	cfg->cpusvn[0] = 1;
}

static int config_check(const struct sgx_cpu_config *cfg)
{
	if (cfg->nr_sections == 0 || cfg->nr_sections > SGX_MAX_EPC_SECTIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		uint64_t size = cfg->sections[i].size;

		if (size == 0 || (size & (SGX_PAGE_SIZE - 1)) || size > (1ULL << 46))
			return -EINVAL;
	}
	if ((cfg->xfrm_valid & SGX_XFRM_LEGACY) != SGX_XFRM_LEGACY)
		return -EINVAL;
	if (cfg->max_enclave_size_64 < 13 || cfg->max_enclave_size_64 > 63)
		return -EINVAL;
	/* CPUID may not claim what the model does not do: SGX2's leaves,
	 * 32-bit enclaves (ECREATE refuses them), AEX-Notify, or bits the
	 * architecture reserves. */
	if (cfg->sgx2 || cfg->max_enclave_size_32)
		return -EINVAL;
	if (cfg->attributes_valid & (SGX_ATTR_RESERVED_MASK | SGX_ATTR_AEXNOTIFY))
		return -EINVAL;
	if (cfg->miscselect_valid & SGX_MISC_RESERVED_MASK)
		return -EINVAL;
	return 0;
}

/* Derives a named key from the seed: SHA-256(label || seed), truncated. */
static void seeded_key(const uint8_t seed[32], const char *label, uint8_t *out, size_t len)
{
	uint8_t digest[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, label, strlen(label)) || !EVP_DigestUpdate(ctx, seed, 32) ||
	    !EVP_DigestFinal_ex(ctx, digest, &n))
		abort(); /* only fails on allocation failure inside OpenSSL */
	EVP_MD_CTX_free(ctx);
	memcpy(out, digest, len);
}

static int keys_init(struct sgx_cpu *cpu)
{
	struct cpu_keys *k = &cpu->keys;

	if (cpu->cfg.seeded) {
		seeded_key(cpu->cfg.seed, "sgxemu seal fuses", k->seal_fuses, 16);
		seeded_key(cpu->cfg.seed, "sgxemu provisioning fuses", k->prov_fuses, 16);
		seeded_key(cpu->cfg.seed, "sgxemu owner epoch", k->owner_epoch, 16);
		seeded_key(cpu->cfg.seed, "sgxemu report key base", k->report_key_base, 16);
	} else if (RAND_bytes((uint8_t *)k, sizeof(*k)) != 1) {
		return -EIO;
	}
	/*
	 * The paging key is drawn fresh at every start, seeded or not: EWB's
	 * versions restart with the machine, so two machines sharing a paging
	 * key would share IVs and could load each other's pages.
	 */
	if (RAND_bytes(k->paging_key, sizeof(k->paging_key)) != 1)
		return -EIO;
	return 0;
}

/* The fields every machine starts with, wherever its memory is. */
static void cpu_init_fields(struct sgx_cpu *cpu, const struct sgx_cpu_config *cfg)
{
	cpu->cfg = *cfg;
	cpu->gen = atomic_fetch_add(&machine_generation, 1) + 1;
	cpu->next_eid = 1;
	cpu->next_version = VA_VERSION_STEP;
	cpu->feat_ctl = FEAT_CTL_LOCKED | FEAT_CTL_SGX_ENABLED |
			(cfg->lc_mode == SGX_LC_WRITABLE ? FEAT_CTL_SGX_LC_ENABLED : 0);
}

/* Records section i at base and gives every frame its own bytes once all
 * sections are placed. */
static void cpu_place_section(struct sgx_cpu *cpu, unsigned int i, uint8_t *base, uint64_t *first)
{
	struct cpu_section *s = &cpu->sections[i];

	s->base = base;
	s->size = cpu->cfg.sections[i].size;
	s->first = *first;
	s->nr = s->size / SGX_PAGE_SIZE;
	s->node = cpu->cfg.sections[i].node;
	*first += s->nr;
	cpu->nr_sections = i + 1;
}

static void cpu_bind_own_bytes(struct sgx_cpu *cpu)
{
	for (uint64_t f = 0; f < cpu->nr_frames; f++)
		cpu->epcm[f].bytes = cpu_frame_addr(cpu, f);
}

int sgx_cpu_create(const struct sgx_cpu_config *cfg, struct sgx_cpu **out)
{
	struct sgx_cpu *cpu;
	uint64_t first = 0;
	unsigned int i;
	int ret;

	ret = config_check(cfg);
	if (ret)
		return ret;
	cpu = calloc(1, sizeof(*cpu));
	if (!cpu)
		return -ENOMEM;
	cpu_init_fields(cpu, cfg);

	for (i = 0; i < cfg->nr_sections; i++) {
		void *base;

		base = mmap(NULL, cfg->sections[i].size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED) {
			ret = -ENOMEM;
			goto err_sections;
		}
		cpu_place_section(cpu, i, base, &first);
	}
	cpu->nr_frames = first;

	cpu->epcm = calloc(cpu->nr_frames, sizeof(*cpu->epcm));
	if (!cpu->epcm) {
		ret = -ENOMEM;
		goto err_sections;
	}
	cpu_bind_own_bytes(cpu);

	ret = keys_init(cpu);
	if (ret)
		goto err_epcm;
	*out = cpu;
	return 0;

err_epcm:
	free(cpu->epcm);
err_sections:
	for (i = 0; i < cpu->nr_sections; i++)
		munmap(cpu->sections[i].base, cpu->sections[i].size);
	free(cpu);
	return ret;
}

/*
 * The arena layout: struct sgx_cpu, then the EPCM, then each section, each
 * part starting on a page.  The EPCM's frame locks are plain atomics in
 * that memory, so leaves in any process that maps it at the same address
 * exclude each other as threads of one process do.
 */
static uint64_t arena_round(uint64_t n)
{
	return (n + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1);
}

static uint64_t arena_frames(const struct sgx_cpu_config *cfg)
{
	uint64_t frames = 0;

	for (unsigned int i = 0; i < cfg->nr_sections; i++)
		frames += cfg->sections[i].size / SGX_PAGE_SIZE;
	return frames;
}

uint64_t sgx_cpu_arena_size(const struct sgx_cpu_config *cfg)
{
	uint64_t size;

	if (config_check(cfg))
		return 0;
	size = arena_round(sizeof(struct sgx_cpu)) +
	       arena_round(arena_frames(cfg) * sizeof(struct epcm_entry));
	for (unsigned int i = 0; i < cfg->nr_sections; i++)
		size += cfg->sections[i].size;
	return size;
}

int sgx_cpu_create_in(const struct sgx_cpu_config *cfg, void *arena, uint64_t size,
		      struct sgx_cpu **out)
{
	uint64_t need = sgx_cpu_arena_size(cfg), first = 0;
	struct sgx_cpu *cpu = arena;
	uint8_t *p;
	int ret;

	if (!need || !arena || ((uintptr_t)arena & (SGX_PAGE_SIZE - 1)))
		return -EINVAL;
	if (size < need)
		return -ENOSPC;
	/* The memory may be fresh (zero) or a previous machine's: start clean. */
	memset(cpu, 0, sizeof(*cpu));
	cpu_init_fields(cpu, cfg);
	/* Several processes share this machine, and each has its own counter
	 * of machine generations: a random one cannot collide with theirs. */
	if (RAND_bytes((uint8_t *)&cpu->gen, sizeof(cpu->gen)) != 1)
		return -EIO;
	cpu->gen |= 1ULL << 63;
	p = (uint8_t *)arena + arena_round(sizeof(*cpu));
	cpu->nr_frames = arena_frames(cfg);
	cpu->epcm = (struct epcm_entry *)p;
	memset(p, 0, cpu->nr_frames * sizeof(struct epcm_entry));
	p += arena_round(cpu->nr_frames * sizeof(struct epcm_entry));
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		cpu_place_section(cpu, i, p, &first);
		p += cfg->sections[i].size;
	}
	cpu_bind_own_bytes(cpu);
	cpu->arena_end = p;
	ret = keys_init(cpu);
	if (ret)
		return ret;
	atomic_store_explicit(&cpu->magic, CPU_ARENA_MAGIC, memory_order_release);
	*out = cpu;
	return 0;
}

int sgx_cpu_attach(void *arena, struct sgx_cpu **out)
{
	struct sgx_cpu *cpu = arena;

	if (!arena || ((uintptr_t)arena & (SGX_PAGE_SIZE - 1)) ||
	    atomic_load_explicit(&cpu->magic, memory_order_acquire) !=
		    CPU_ARENA_MAGIC)
		return -EINVAL;
	*out = cpu;
	return 0;
}

/*
 * Section memory is backed lazily by default: frames the EPC layer binds
 * to an owner's memory never touch it, so backing it up front would cost
 * the EPC's size again.  A caller that runs leaves on unbound frames (the
 * build benchmark) backs it here, in huge pages, as hardware EPC is backed
 * from power-on.
 */
int sgx_cpu_prefault(struct sgx_cpu *cpu)
{
	for (unsigned int i = 0; i < cpu->nr_sections; i++) {
		struct cpu_section *s = &cpu->sections[i];

		madvise(s->base, s->size, MADV_HUGEPAGE); /* advice only */
		if (madvise(s->base, s->size, MADV_POPULATE_WRITE) && errno != EINVAL)
			return -errno;
	}
	return 0;
}

void sgx_cpu_destroy(struct sgx_cpu *cpu)
{
	if (!cpu)
		return;
#ifdef SGXEMU_DEBUG
	if (sgx_cpu_check(cpu) == -EUCLEAN)
		abort(); /* the EPCM's bookkeeping broke; see sgx_cpu_check() */
#endif
	if (cpu->magic == CPU_ARENA_MAGIC) {
		/* The arena's owner unmaps it; attached processes only stop
		 * using it. */
		OPENSSL_cleanse(&cpu->keys, sizeof(cpu->keys));
		atomic_store(&cpu->magic, 0);
		return;
	}
	free(cpu->epcm);
	for (unsigned int i = 0; i < cpu->nr_sections; i++)
		munmap(cpu->sections[i].base, cpu->sections[i].size);
	OPENSSL_cleanse(&cpu->keys, sizeof(cpu->keys));
	free(cpu);
}

const struct sgx_cpu_config *sgx_cpu_config(const struct sgx_cpu *cpu)
{
	return &cpu->cfg;
}

void sgx_cpu_cpuid(const struct sgx_cpu *cpu, uint32_t subleaf, uint32_t regs[4])
{
	const struct sgx_cpu_config *cfg = &cpu->cfg;

	memset(regs, 0, 4 * sizeof(uint32_t));
	if (subleaf == 0) {
		regs[0] = SGX_CPUID_SGX1 | (cfg->sgx2 ? SGX_CPUID_SGX2 : 0);
		regs[1] = cfg->miscselect_valid;
		regs[3] = cfg->max_enclave_size_32 | ((uint32_t)cfg->max_enclave_size_64 << 8);
	} else if (subleaf == 1) {
		regs[0] = (uint32_t)cfg->attributes_valid;
		regs[1] = (uint32_t)(cfg->attributes_valid >> 32);
		regs[2] = (uint32_t)cfg->xfrm_valid;
		regs[3] = (uint32_t)(cfg->xfrm_valid >> 32);
	} else if (subleaf >= SGX_CPUID_EPC && subleaf - SGX_CPUID_EPC < cpu->nr_sections) {
		const struct cpu_section *s = &cpu->sections[subleaf - SGX_CPUID_EPC];
		uint64_t base = (uint64_t)(uintptr_t)s->base;

		regs[0] = ((uint32_t)base & 0xFFFFF000U) | SGX_CPUID_EPC_SECTION;
		regs[1] = (uint32_t)(base >> 32) & 0xFFFFF;
		/* Properties 1: confidentiality and integrity protection. */
		regs[2] = ((uint32_t)s->size & 0xFFFFF000U) | 1;
		regs[3] = (uint32_t)(s->size >> 32) & 0xFFFFF;
	}
}

int sgx_cpu_section_node(const struct sgx_cpu *cpu, unsigned int section)
{
	if (section >= cpu->nr_sections)
		return -1;
	return cpu->sections[section].node;
}

/*
 * Per-logical-processor state.  Each host thread is a logical processor;
 * its copy of the launch-control MSRs is reset when it first touches a
 * machine (or a different machine than last time).
 */
struct lp_state {
	uint64_t gen; /* machine generation this state belongs to */
	uint64_t lepubkeyhash[4];
};
static __thread struct lp_state this_lp;

static struct lp_state *lp_get(const struct sgx_cpu *cpu)
{
	if (this_lp.gen != cpu->gen) {
		this_lp.gen = cpu->gen;
		memcpy(this_lp.lepubkeyhash, cpu->cfg.lepubkeyhash, 32);
	}
	return &this_lp;
}

void cpu_lp_lepubkeyhash(const struct sgx_cpu *cpu, uint8_t hash[32])
{
	memcpy(hash, lp_get(cpu)->lepubkeyhash, 32);
}

int sgx_cpu_rdmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_IA32_FEAT_CTL) {
		*val = cpu->feat_ctl;
		return 0;
	}
	if (msr >= MSR_IA32_SGXLEPUBKEYHASH0 && msr <= MSR_IA32_SGXLEPUBKEYHASH3) {
		*val = lp_get(cpu)->lepubkeyhash[msr - MSR_IA32_SGXLEPUBKEYHASH0];
		return 0;
	}
	return ENCLS_GP;
}

int sgx_cpu_wrmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t val)
{
	if (msr >= MSR_IA32_SGXLEPUBKEYHASH0 && msr <= MSR_IA32_SGXLEPUBKEYHASH3) {
		/* Writable only when firmware left launch control open. */
		if (!(cpu->feat_ctl & FEAT_CTL_SGX_LC_ENABLED))
			return ENCLS_GP;
		lp_get(cpu)->lepubkeyhash[msr - MSR_IA32_SGXLEPUBKEYHASH0] = val;
		return 0;
	}
	/* IA32_FEAT_CTL is locked by firmware; everything else is unknown. */
	return ENCLS_GP;
}

uint64_t sgx_cpu_nr_frames(const struct sgx_cpu *cpu)
{
	return cpu->nr_frames;
}

void *sgx_cpu_frame_addr(const struct sgx_cpu *cpu, uint64_t index)
{
	return index < cpu->nr_frames ? cpu_frame_addr(cpu, index) : NULL;
}

int sgx_cpu_frame_bind(struct sgx_cpu *cpu, const void *epc, void *bytes)
{
	struct epcm_entry *e;
	int64_t i;
	int ret = 0;

	if (!cpu || ((uintptr_t)epc & (SGX_PAGE_SIZE - 1)) ||
	    ((uintptr_t)bytes & (SGX_PAGE_SIZE - 1)))
		return -EINVAL;
	i = cpu_frame_index(cpu, epc);
	if (i < 0)
		return -EINVAL;
	if (!bytes)
		bytes = cpu_frame_addr(cpu, (uint64_t)i);
	else if (bytes != cpu_frame_addr(cpu, (uint64_t)i) && cpu_frame_index(cpu, bytes) >= 0)
		return -EINVAL; /* one frame's bytes cannot be another frame */
	e = &cpu->epcm[i];
	frame_raw_lock(&e->lock);
	/* A VA page whose slots a leaf still uses counts as in use too. */
	if (e->valid || cpu_frame_pinned(e))
		ret = -EBUSY;
	else
		__atomic_store_n(&e->bytes, (uint8_t *)bytes, __ATOMIC_RELAXED);
	frame_raw_unlock(&e->lock);
	return ret;
}

void *sgx_cpu_frame_bytes(const struct sgx_cpu *cpu, const void *epc)
{
	int64_t i = cpu_frame_index(cpu, epc);

	return i < 0 ? NULL : cpu_frame_ptr(cpu, (uint64_t)i);
}

int64_t sgx_cpu_frame_index(const struct sgx_cpu *cpu, const void *addr)
{
	return cpu_frame_index(cpu, addr);
}

/* Takes one conflict injected at this frame, if any are left. */
static bool injected(_Atomic uint32_t *left)
{
	uint32_t n = atomic_load_explicit(left, memory_order_relaxed);

	while (n)
		if (atomic_compare_exchange_weak_explicit(left, &n, n - 1, memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	return false;
}

/* The frame's lock just taken: #MC for a poisoned frame. */
static int frame_poison_check(struct epcm_entry *e)
{
	if (e->poisoned) {
		frame_raw_unlock(&e->lock);
		return ENCLS_MC;
	}
	return 0;
}

int cpu_frame_trylock(struct sgx_cpu *cpu, uint64_t index)
{
	struct epcm_entry *e = &cpu->epcm[index];

	if (injected(&e->inject_page) ||
	    !frame_acquire(&e->lock, FRAME_TARGET,
			   FRAME_CONFLICTS(FRAME_TARGET) | FRAME_CONFLICTS(FRAME_OPERAND)))
		return SGX_EPC_PAGE_CONFLICT;
	return frame_poison_check(e);
}

int cpu_operand_lock(struct sgx_cpu *cpu, uint64_t index)
{
	struct epcm_entry *e = &cpu->epcm[index];

	if (injected(&e->inject_page) ||
	    !frame_acquire(&e->lock, FRAME_OPERAND, FRAME_CONFLICTS(FRAME_TARGET)))
		return SGX_EPC_PAGE_CONFLICT;
	return frame_poison_check(e);
}

int cpu_frame_lock(struct sgx_cpu *cpu, uint64_t index)
{
	struct epcm_entry *e = &cpu->epcm[index];

	(void)frame_acquire(&e->lock, FRAME_OPERAND, 0);
	return frame_poison_check(e);
}

bool cpu_tracking_begin(struct sgx_cpu *cpu, uint64_t index)
{
	struct epcm_entry *e = &cpu->epcm[index];

	if (injected(&e->inject_tracking))
		return false;
	return !atomic_exchange_explicit(&e->tracking, true, memory_order_acquire);
}

void cpu_tracking_end(struct sgx_cpu *cpu, uint64_t index)
{
	atomic_store_explicit(&cpu->epcm[index].tracking, false, memory_order_release);
}

int sgx_cpu_inject_conflict(struct sgx_cpu *cpu, const void *epc, enum sgx_conflict_kind kind,
			    unsigned int n)
{
	struct epcm_entry *e;
	int64_t i;

	if (!cpu || ((uintptr_t)epc & (SGX_PAGE_SIZE - 1)) || n > INT32_MAX)
		return -EINVAL;
	i = cpu_frame_index(cpu, epc);
	if (i < 0)
		return -EINVAL;
	e = &cpu->epcm[i];
	switch (kind) {
	case SGX_CONFLICT_PAGE:
		return (int)atomic_exchange(&e->inject_page, n);
	case SGX_CONFLICT_TRACKING:
		return (int)atomic_exchange(&e->inject_tracking, n);
	}
	return -EINVAL;
}

void cpu_frame_unlock(struct sgx_cpu *cpu, uint64_t index)
{
	frame_raw_unlock(&cpu->epcm[index].lock);
}

int cpu_lock_secs(struct sgx_cpu *cpu, uint64_t pginfo_secs, uint64_t *index)
{
	uint64_t i;
	int ret;

	ret = cpu_epc_operand(cpu, (const void *)(uintptr_t)pginfo_secs, &i);
	if (ret)
		return ret;
	ret = cpu_frame_lock(cpu, i);
	if (ret)
		return ret;
	if (!cpu->epcm[i].valid || cpu->epcm[i].type != SGX_PAGE_TYPE_SECS) {
		cpu_frame_unlock(cpu, i);
		return ENCLS_GP;
	}
	*index = i;
	return 0;
}

/*
 * Introspection takes each EPCM entry's lock as the processor's own
 * bookkeeping (FRAME_INTERNAL): a leaf that races with it for the same
 * frame waits for it, and sees no conflict.  Use it on a quiescent machine
 * all the same (tests, teardown): a snapshot of a frame a leaf is changing
 * is stale at once; live statistics come from the software's own counts.
 */
int sgx_cpu_epcm_info(const struct sgx_cpu *cpu, const void *epc, struct sgx_epcm_info *info)
{
	int64_t i = cpu_frame_index(cpu, epc);
	struct epcm_entry *e;
	uint64_t secs;

	if (i < 0)
		return -EINVAL;
	e = &cpu->epcm[i];
	frame_raw_lock(&e->lock);
	memset(info, 0, sizeof(*info));
	info->valid = e->valid;
	info->blocked = e->blocked;
	info->pending = e->pending;
	info->modified = e->modified;
	info->type = e->type;
	info->perms = e->perms;
	info->linaddr = e->linaddr;
	secs = e->secs;
	frame_raw_unlock(&e->lock);
	if (info->valid && info->type != SGX_PAGE_TYPE_VA) {
		uint64_t s = info->type == SGX_PAGE_TYPE_SECS ? (uint64_t)i : secs;
		struct epcm_entry *se = &cpu->epcm[s];

		frame_raw_lock(&se->lock);
		if (se->valid && se->type == SGX_PAGE_TYPE_SECS)
			info->enclave_id = secs_private(cpu_frame_ptr(cpu, s))->eid;
		frame_raw_unlock(&se->lock);
	}
	return 0;
}

uint64_t sgx_cpu_nr_valid(const struct sgx_cpu *cpu)
{
	uint64_t n = 0;

	for (uint64_t f = 0; f < cpu->nr_frames; f++) {
		frame_raw_lock(&cpu->epcm[f].lock);
		n += cpu->epcm[f].valid;
		frame_raw_unlock(&cpu->epcm[f].lock);
	}
	return n;
}

/*
 * The EPCM's invariants, on a quiescent machine:
 *   every valid child page names a valid SECS;
 *   a SECS's child_count == its valid REG/TCS/TRIM pages;
 *   a SECS's nr_threads == its busy TCS pages;
 *   no VA page is pinned.
 * O(frames) time and O(frames) memory.
 */
int sgx_cpu_check(const struct sgx_cpu *cpu)
{
	uint64_t *children, *busy;
	int ret = 0;

	children = calloc(cpu->nr_frames, sizeof(*children));
	busy = calloc(cpu->nr_frames, sizeof(*busy));
	if (!children || !busy) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint64_t f = 0; f < cpu->nr_frames && !ret; f++) {
		struct epcm_entry *e = &cpu->epcm[f];

		frame_raw_lock(&e->lock);
		if (e->valid && e->type != SGX_PAGE_TYPE_SECS && e->type != SGX_PAGE_TYPE_VA) {
			if (e->secs >= cpu->nr_frames)
				ret = -EUCLEAN;
			else
				children[e->secs]++;
			if (e->type == SGX_PAGE_TYPE_TCS && e->tcs_busy && !ret)
				busy[e->secs]++;
		}
		if (e->valid && e->type == SGX_PAGE_TYPE_VA && cpu_frame_pinned(e))
			ret = -EUCLEAN;
		frame_raw_unlock(&e->lock);
	}
	for (uint64_t f = 0; f < cpu->nr_frames && !ret; f++) {
		struct epcm_entry *e = &cpu->epcm[f];
		bool is_secs;

		frame_raw_lock(&e->lock);
		is_secs = e->valid && e->type == SGX_PAGE_TYPE_SECS;
		if (is_secs) {
			const struct secs_private *sp = secs_private(cpu_frame_ptr(cpu, f));

			if (sp->child_count != children[f] || sp->nr_threads != busy[f])
				ret = -EUCLEAN;
		} else if (children[f]) {
			ret = -EUCLEAN; /* children of a frame that is no SECS */
		}
		frame_raw_unlock(&e->lock);
	}
out:
	free(children);
	free(busy);
	return ret;
}

int sgx_cpu_poison(struct sgx_cpu *cpu, const void *epc)
{
	int64_t i = cpu_frame_index(cpu, epc);

	if (i < 0)
		return -EINVAL;
	frame_raw_lock(&cpu->epcm[i].lock);
	cpu->epcm[i].poisoned = true;
	frame_raw_unlock(&cpu->epcm[i].lock);
	return 0;
}

/* XSAVE component sizes and offsets of the model (CPUID leaf 0xD). */
static const struct {
	uint32_t offset, size;
} xsave_components[] = {
	[2] = { 576, 256 }, /* AVX */
	[3] = { 960, 64 }, /* MPX BNDREGS */
	[4] = { 1024, 64 }, /* MPX BNDCSR */
	[5] = { 1088, 64 }, /* AVX-512 opmask */
	[6] = { 1152, 512 }, /* AVX-512 ZMM_Hi256 */
	[7] = { 1664, 1024 }, /* AVX-512 Hi16_ZMM */
	[9] = { 2688, 8 }, /* PKRU */
	[17] = { 2752, 64 }, /* AMX TILECFG */
	[18] = { 2816, 8192 }, /* AMX TILEDATA */
};

uint32_t cpu_xsave_size(uint64_t xfrm)
{
	uint32_t size = 576; /* legacy region + XSAVE header */

	for (unsigned int b = 2; b < sizeof(xsave_components) / sizeof(xsave_components[0]); b++) {
		uint32_t end = xsave_components[b].offset + xsave_components[b].size;

		if ((xfrm & (1ULL << b)) && xsave_components[b].size && end > size)
			size = end;
	}
	return size;
}
