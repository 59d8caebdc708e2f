/*
 * build.c: the enclave-build leaves ECREATE, EADD, EEXTEND, EREMOVE and the
 * debug leaves EDBGRD/EDBGWR.
 *
 * Each leaf checks its operands in the order the SDM's pseudo-code does and
 * answers as the hardware would: a fault (#GP, #PF, #MC) for malformed
 * operands, leaving nothing changed, or an SGX error code.  The measurement
 * (MRENCLAVE) accumulates in the SECS's private SHA-256 state: ECREATE,
 * EADD and EEXTEND each hash the 64-byte record the architecture defines.
 */
#include <string.h>

#include "cpu/cpu_internal.h"

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static bool canonical(uint64_t addr)
{
	return ((int64_t)(addr << 16) >> 16) == (int64_t)addr;
}

/* The XFRM rules: x87 and SSE always; only what the model supports; AVX
 * needs SSE; the AVX-512 components together and only with AVX; the MPX
 * components together; the AMX components together. */
static bool xfrm_legal(const struct sgx_cpu *cpu, uint64_t xfrm)
{
	if ((xfrm & SGX_XFRM_LEGACY) != SGX_XFRM_LEGACY)
		return false;
	if (xfrm & ~cpu->cfg.xfrm_valid)
		return false;
	if ((xfrm & SGX_XFRM_AVX512) && ((xfrm & SGX_XFRM_AVX512) != SGX_XFRM_AVX512 ||
					 !(xfrm & SGX_XFRM_AVX)))
		return false;
	if (!!(xfrm & SGX_XFRM_BNDREGS) != !!(xfrm & SGX_XFRM_BNDCSR))
		return false;
	if ((xfrm & SGX_XFRM_AMX) && (xfrm & SGX_XFRM_AMX) != SGX_XFRM_AMX)
		return false;
	return true;
}

/* Pages one SSA frame needs: XSAVE area + MISC region + GPRSGX. */
static uint64_t ssa_frame_pages_needed(uint64_t xfrm, uint32_t miscselect)
{
	uint64_t bytes = cpu_xsave_size(xfrm) + SGX_SSA_GPRS_SIZE;

	if (miscselect & SGX_MISC_EXINFO)
		bytes += SGX_SSA_MISC_EXINFO_SIZE;
	return (bytes + SGX_PAGE_SIZE - 1) / SGX_PAGE_SIZE;
}

/* The SECS checks ECREATE makes; all failures are #GP(0). */
static int secs_check(const struct sgx_cpu *cpu, const struct sgx_secs *s)
{
	const struct sgx_cpu_config *cfg = &cpu->cfg;

	if (!(s->attributes & SGX_ATTR_MODE64BIT))
		return GP; /* the model runs 64-bit enclaves only */
	if (s->attributes & SGX_ATTR_INIT)
		return GP;
	if (s->attributes & (SGX_ATTR_RESERVED_MASK | ~cfg->attributes_valid))
		return GP;
	if (s->miscselect & (SGX_MISC_RESERVED_MASK | ~cfg->miscselect_valid))
		return GP;
	if (!xfrm_legal(cpu, s->xfrm))
		return GP;
	if (s->size < 2 * SGX_PAGE_SIZE || !is_pow2(s->size))
		return GP;
	/* SDM, ECREATE: "DS:TMP_SECS.SIZE >= 2 ^ CPUID.(EAX=12H,ECX=0):EDX[15:8]"
	 * faults, so the largest enclave is half of 2^MaxEnclaveSize_64. */
	if (s->size >= (1ULL << cfg->max_enclave_size_64)) /* the model keeps it <= 63 */
		return GP;
	if (s->base & (s->size - 1))
		return GP;
	if (!canonical(s->base) || !canonical(s->base + s->size - 1))
		return GP;
	if (s->ssa_frame_size == 0 ||
	    s->ssa_frame_size < ssa_frame_pages_needed(s->xfrm, s->miscselect))
		return GP;
	/* CONFIGID and CONFIGSVN need key separation and sharing. */
	if (!(s->attributes & SGX_ATTR_KSS) &&
	    (!cpu_all_zero(s->config_id, sizeof(s->config_id)) || s->config_svn))
		return GP;
	if (!cpu_all_zero(s->reserved1, sizeof(s->reserved1)) ||
	    !cpu_all_zero(s->reserved2, sizeof(s->reserved2)) ||
	    !cpu_all_zero(s->reserved3, sizeof(s->reserved3)) ||
	    !cpu_all_zero(s->reserved4, sizeof(s->reserved4)))
		return GP;
	return 0;
}

int encls_ecreate(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *secs)
{
	const struct sgx_secinfo *secinfo;
	const struct sgx_secs *src;
	struct sgx_meas_ecreate rec;
	struct secs_private *priv;
	struct sgx_secs tmp;
	struct epcm_entry *e;
	uint64_t idx;
	uint8_t *page;
	int ret;

	if (!pginfo || ((uintptr_t)pginfo & 31))
		return GP;
	secinfo = (const void *)(uintptr_t)pginfo->metadata;
	src = (const void *)(uintptr_t)pginfo->contents;
	if (!secinfo || ((uintptr_t)secinfo & 63) || !src || ((uintptr_t)src & (SGX_PAGE_SIZE - 1)))
		return GP;
	if (pginfo->addr || pginfo->secs)
		return GP;
	ret = cpu_epc_operand(cpu, secs, &idx);
	if (ret)
		return ret;
	if ((secinfo->flags & ~SGX_SECINFO_FLAGS_DEFINED) ||
	    !cpu_all_zero(secinfo->reserved, sizeof(secinfo->reserved)) ||
	    (secinfo->flags & ~SGX_SECINFO_PAGE_TYPE_MASK) ||
	    ((secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT) !=
		    SGX_PAGE_TYPE_SECS)
		return GP;
	memcpy(&tmp, src, sizeof(tmp));

	/* SDM, ECREATE: "Check the EPC page for concurrency" (#GP: the Base
	 * Concurrency Restrictions of ECREATE have SECS [DS:RCX] Exclusive,
	 * #GP on conflict), then "EPCM(DS:RCX).VALID = 1" (#PF), and only
	 * then the checks of the SECS copied in. */
	ret = cpu_frame_trylock(cpu, idx);
	if (ret)
		return cpu_conflict_as(ret, GP);
	e = &cpu->epcm[idx];
	if (e->valid) {
		cpu_frame_unlock(cpu, idx);
		return PF;
	}
	ret = secs_check(cpu, &tmp);
	if (ret) {
		cpu_frame_unlock(cpu, idx);
		return ret;
	}
	page = cpu_frame_ptr(cpu, idx);
	memcpy(page, &tmp, sizeof(tmp));
	memset(((struct sgx_secs *)page)->mrenclave, 0, 32);
	memset(((struct sgx_secs *)page)->mrsigner, 0, 32);
	priv = secs_private(page);
	memset(priv, 0, sizeof(*priv));
	priv->eid = atomic_fetch_add(&cpu->next_eid, 1);
	SHA256_Init(&priv->meas);
	memset(&rec, 0, sizeof(rec));
	rec.tag = SGX_MEAS_TAG_ECREATE;
	rec.ssa_frame_size = tmp.ssa_frame_size;
	rec.size = tmp.size;
	SHA256_Update(&priv->meas, &rec, sizeof(rec));

	e->valid = true;
	e->type = SGX_PAGE_TYPE_SECS;
	e->perms = 0;
	e->blocked = e->pending = e->modified = e->pr = false;
	e->linaddr = 0;
	e->secs = idx;
	cpu_frame_unlock(cpu, idx);
	return 0;
}

/*
 * SDM, EADD, case PT_TCS, on the page copied into the EPC: "DS:RCX.RESERVED
 * != 0" faults, and so, in a 32-bit enclave, do FS or GS limits whose low
 * 12 bits are not all ones.  EADD checks nothing else of a TCS: FLAGS'
 * reserved bits and the alignment of OSSA, OFSBASE and OGSBASE are EENTER's
 * checks (thread.c), and STATE, CSSA, AEP and DBGOPTIN are cleared.
 */
static int tcs_check(const struct sgx_tcs *tcs, const struct sgx_secs *secs)
{
	if (!cpu_all_zero(tcs->reserved, sizeof(tcs->reserved)))
		return GP;
	if (!(secs->attributes & SGX_ATTR_MODE64BIT) &&
	    ((tcs->fs_limit & 0xFFF) != 0xFFF || (tcs->gs_limit & 0xFFF) != 0xFFF))
		return GP;
	return 0;
}

int encls_eadd(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc)
{
	const struct sgx_secinfo *secinfo;
	struct sgx_meas_eadd rec;
	struct secs_private *priv;
	struct sgx_secs *secs;
	const uint8_t *src;
	uint8_t *page;
	uint64_t idx, sidx, flags, type;
	struct epcm_entry *e;
	int ret;

	if (!pginfo || ((uintptr_t)pginfo & 31))
		return GP;
	secinfo = (const void *)(uintptr_t)pginfo->metadata;
	src = (const void *)(uintptr_t)pginfo->contents;
	if (!secinfo || ((uintptr_t)secinfo & 63) || !src || ((uintptr_t)src & (SGX_PAGE_SIZE - 1)))
		return GP;
	if (pginfo->addr & (SGX_PAGE_SIZE - 1))
		return GP;
	ret = cpu_epc_operand(cpu, epc, &idx);
	if (ret)
		return ret;
	ret = cpu_epc_operand(cpu, (const void *)(uintptr_t)pginfo->secs, &sidx);
	if (ret)
		return ret;

	/* SDM, EADD: "Check for misconfigured SECINFO flags". */
	flags = secinfo->flags;
	type = (flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;
	if ((flags & ~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK)) ||
	    !cpu_all_zero(secinfo->reserved, sizeof(secinfo->reserved)))
		return GP;
	if (type != SGX_PAGE_TYPE_REG && type != SGX_PAGE_TYPE_TCS)
		return GP;

	/* "Check the EPC page for concurrency" (#GP), "EPCM(DS:RCX).VALID != 0"
	 * (#PF), then the SECS: concurrency (#GP), valid and PT_SECS (#PF).
	 * The Base Concurrency Restrictions of EADD: Target [DS:RCX]
	 * Exclusive, SECS [DS:RBX]PAGEINFO.SECS Shared, #GP on either. */
	ret = cpu_frame_trylock(cpu, idx);
	if (ret)
		return cpu_conflict_as(ret, GP);
	e = &cpu->epcm[idx];
	if (e->valid) {
		ret = PF;
		goto out_target;
	}
	if (sidx == idx) {
		ret = GP;
		goto out_target;
	}
	ret = cpu_conflict_as(cpu_operand_lock(cpu, sidx), GP);
	if (ret)
		goto out_target;
	if (!cpu->epcm[sidx].valid || cpu->epcm[sidx].type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out_secs;
	}
	secs = (struct sgx_secs *)cpu_frame_ptr(cpu, sidx);
	priv = secs_private((uint8_t *)secs);

	/* The page-type cases, on the contents (read from the source here,
	 * before the copy, so that a fault leaves the frame untouched). */
	if (type == SGX_PAGE_TYPE_TCS) {
		ret = tcs_check((const struct sgx_tcs *)src, secs);
		if (ret)
			goto out_secs;
	} else if ((flags & SGX_SECINFO_W) && !(flags & SGX_SECINFO_R)) {
		ret = GP;
		goto out_secs;
	}
	/* The offset inside ELRANGE, then "already in Initialized state". */
	if (pginfo->addr < secs->base || pginfo->addr - secs->base >= secs->size) {
		ret = GP;
		goto out_secs;
	}
	if (priv->initialized) {
		ret = GP;
		goto out_secs;
	}

	page = cpu_frame_ptr(cpu, idx);
	memcpy(page, src, SGX_PAGE_SIZE);
	/* "For TCS pages, force EPCM.rwx bits to 0 and no debug access": the
	 * SECINFO that is measured and kept loses R, W and X, and the TCS in
	 * the EPC loses FLAGS.DBGOPTIN, CSSA, AEP and STATE. */
	if (type == SGX_PAGE_TYPE_TCS) {
		struct sgx_tcs *tcs = (struct sgx_tcs *)page;

		flags &= ~SGX_SECINFO_PERMISSION_MASK;
		tcs->flags &= ~SGX_TCS_DBGOPTIN;
		tcs->ssa_index = 0;
		tcs->exit_addr = 0;
		tcs->state = 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.tag = SGX_MEAS_TAG_EADD;
	rec.offset = pginfo->addr - secs->base;
	rec.secinfo_flags = flags;
	SHA256_Update(&priv->meas, &rec, sizeof(rec));
	priv->child_count++;

	e->valid = true;
	e->type = (uint8_t)type;
	e->perms = (uint8_t)(flags & SGX_SECINFO_PERMISSION_MASK);
	e->blocked = e->pending = e->modified = e->pr = false;
	e->linaddr = pginfo->addr;
	e->secs = sidx;
	ret = 0;
out_secs:
	cpu_frame_unlock(cpu, sidx);
out_target:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

int encls_eextend(struct sgx_cpu *cpu, void *secs_epc, void *chunk)
{
	struct {
		struct sgx_meas_eextend rec;
		uint8_t data[SGX_EEXTEND_CHUNK];
	} __attribute__((packed, aligned(64))) rec;
	struct secs_private *priv;
	struct sgx_secs *secs;
	uint64_t idx, sidx, given_sidx;
	struct epcm_entry *e;
	uint8_t *page;
	size_t off;
	int ret;

	if ((uintptr_t)chunk & (SGX_EEXTEND_CHUNK - 1))
		return GP;
	ret = cpu_epc_operand(cpu, (void *)((uintptr_t)chunk & ~(SGX_PAGE_SIZE - 1)), &idx);
	if (ret)
		return ret;
	ret = cpu_epc_operand(cpu, secs_epc, &given_sidx);
	if (ret)
		return ret;
	off = (uintptr_t)chunk & (SGX_PAGE_SIZE - 1);

	/* The Base Concurrency Restrictions of EEXTEND: Target [DS:RCX]
	 * Shared, #GP on conflict; SECS [DS:RBX] Concurrent (it waits). */
	ret = cpu_frame_trylock(cpu, idx);
	if (ret)
		return cpu_conflict_as(ret, GP);
	e = &cpu->epcm[idx];
	if (!e->valid || (e->type != SGX_PAGE_TYPE_REG && e->type != SGX_PAGE_TYPE_TCS)) {
		ret = PF;
		goto out_target;
	}
	sidx = e->secs;
	if (sidx != given_sidx) {
		ret = GP;
		goto out_target;
	}
	ret = cpu_frame_lock(cpu, sidx);
	if (ret)
		goto out_target;
	secs = (struct sgx_secs *)cpu_frame_ptr(cpu, sidx);
	priv = secs_private((uint8_t *)secs);
	if (priv->initialized) {
		ret = GP;
		goto out_secs;
	}
	page = cpu_frame_ptr(cpu, idx);
	/* Record and chunk in one update: each call into the SHA-256 block
	 * function costs a state load and store, a measurable share of a
	 * 320-byte update. */
	memset(&rec.rec, 0, sizeof(rec.rec));
	rec.rec.tag = SGX_MEAS_TAG_EEXTEND;
	rec.rec.offset = e->linaddr - secs->base + off;
	memcpy(rec.data, page + off, SGX_EEXTEND_CHUNK);
	SHA256_Update(&priv->meas, &rec, sizeof(rec));
	ret = 0;
out_secs:
	cpu_frame_unlock(cpu, sidx);
out_target:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

int encls_eremove(struct sgx_cpu *cpu, void *epc)
{
	struct secs_private *priv;
	struct epcm_entry *e;
	uint64_t idx, sidx;
	int ret;

	/* The Base Concurrency Restrictions of EREMOVE: Target [DS:RCX]
	 * Exclusive, #GP on conflict (the SECS of a child is Concurrent). */
	ret = cpu_lock_operand(cpu, epc, &idx, GP);
	if (ret)
		return ret;
	e = &cpu->epcm[idx];
	if (!e->valid) {
		ret = 0;
		goto out_target;
	}
	switch (e->type) {
	case SGX_PAGE_TYPE_VA:
		/* A write-back or load is using one of its slots: it holds the
		 * page Shared, a conflict as above. */
		if (cpu_frame_pinned(e)) {
			ret = GP;
			goto out_target;
		}
		break;
	case SGX_PAGE_TYPE_SECS:
		priv = secs_private(cpu_frame_ptr(cpu, idx));
		if (priv->child_count) {
			ret = SGX_CHILD_PRESENT;
			goto out_target;
		}
		break;
	default:
		sidx = e->secs;
		ret = cpu_frame_lock(cpu, sidx);
		if (ret)
			goto out_target;
		priv = secs_private(cpu_frame_ptr(cpu, sidx));
		if (priv->nr_threads) {
			cpu_frame_unlock(cpu, sidx);
			ret = SGX_ENCLAVE_ACT;
			goto out_target;
		}
		priv->child_count--;
		cpu_frame_unlock(cpu, sidx);
		break;
	}
	e->valid = false;
	e->blocked = e->pending = e->modified = e->pr = false;
	e->type = 0;
	e->perms = 0;
	e->linaddr = 0;
	e->secs = 0;
	ret = 0;
out_target:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

/*
 * EDBGRD/EDBGWR: 8 bytes of a debug enclave's page, in the order of the
 * SDM's pseudo-code ("EDBGRD Read From a Debug Enclave", "EDBGWR Write to
 * a Debug Enclave"):
 *
 *  1. RCX 8-byte aligned (#GP), in the EPC (#PF), the page not in use by
 *     another leaf, EPCM(DS:RCX).VALID (#PF);
 *  2. the page type: PT_REG or PT_TCS, and for EDBGRD also PT_VA; any
 *     other (a SECS, a TRIM page) is #PF;
 *  3. PENDING or MODIFIED: SGX_PAGE_NOT_DEBUGGABLE, the leaves' only code;
 *  4. a TCS: EDBGRD within the architectural TCS (SGX_TCS_LIMIT), EDBGWR
 *     only its FLAGS word, else #GP;
 *  5. a REG or TCS page's enclave must be a debug enclave (#GP).
 *
 * EDBGRD of a VA slot tells only whether it holds a version: all ones if
 * it does, else zero; the version itself never leaves the processor.
 */
static int edbg(struct sgx_cpu *cpu, const void *addr, uint64_t *data, bool write)
{
	uint64_t idx, sidx, slot;
	struct epcm_entry *e;
	struct sgx_secs *secs;
	size_t off;
	uint8_t *page;
	int ret;

	if ((uintptr_t)addr & 7)
		return GP;
	off = (uintptr_t)addr & (SGX_PAGE_SIZE - 1);
	/* The Base Concurrency Restrictions of EDBGRD and of EDBGWR: Target
	 * [DS:RCX] Shared, #GP on conflict. */
	ret = cpu_lock_operand(cpu, (const uint8_t *)addr - off, &idx, GP);
	if (ret)
		return ret;
	e = &cpu->epcm[idx];
	if (!e->valid || (e->type != SGX_PAGE_TYPE_REG && e->type != SGX_PAGE_TYPE_TCS &&
			  (write || e->type != SGX_PAGE_TYPE_VA))) {
		ret = PF;
		goto out_target;
	}
	if (e->pending || e->modified) {
		ret = SGX_PAGE_NOT_DEBUGGABLE;
		goto out_target;
	}
	if (e->type == SGX_PAGE_TYPE_TCS &&
	    (write ? off != offsetof(struct sgx_tcs, flags) : off >= SGX_TCS_LIMIT)) {
		ret = GP;
		goto out_target;
	}
	page = cpu_frame_ptr(cpu, idx);
	if (e->type == SGX_PAGE_TYPE_VA) {
		/* Slots are written by EWB and ELDU with atomics, under a pin
		 * rather than the VA frame's lock. */
		slot = __atomic_load_n((const uint64_t *)(page + off), __ATOMIC_ACQUIRE);
		*data = (slot & ~7ULL) ? ~0ULL : 0;
		ret = 0;
		goto out_target;
	}
	sidx = e->secs;
	ret = cpu_frame_lock(cpu, sidx);
	if (ret)
		goto out_target;
	secs = (struct sgx_secs *)cpu_frame_ptr(cpu, sidx);
	if (!(secs->attributes & SGX_ATTR_DEBUG)) {
		ret = GP;
		goto out_secs;
	}
	if (write)
		memcpy(page + off, data, 8);
	else
		memcpy(data, page + off, 8);
	ret = 0;
out_secs:
	cpu_frame_unlock(cpu, sidx);
out_target:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

int encls_edbgrd(struct sgx_cpu *cpu, const void *addr, uint64_t *data)
{
	return edbg(cpu, addr, data, false);
}

int encls_edbgwr(struct sgx_cpu *cpu, void *addr, uint64_t data)
{
	return edbg(cpu, addr, &data, true);
}
