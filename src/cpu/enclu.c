/*
 * enclu.c: the ENCLU leaves that move a logical processor into and out of
 * an enclave: EENTER, ERESUME, EEXIT and the asynchronous exit (AEX).
 *
 * The runtime (src/runtime) runs them on the program's own threads: the
 * enter function for EENTER and ERESUME, the ENCLU trap handler for EEXIT,
 * the exception and kick handlers for AEX.  They are built on the tracking
 * of thread.c (sgx_cpu_thread_enter() claims the TCS and counts the thread
 * inside, sgx_cpu_thread_exit() gives both back) and add what the SDM's
 * flows add: the linear-address checks of the TCS and the SSA frame, URSP
 * and URBP saved at EENTER, TCS.AEP, the state save to GPRSGX, EXITINFO
 * and EXINFO, and CSSA.
 *
 * Locks: each frame's lock is taken alone (frame_raw_lock(), the
 * processor's own bookkeeping) after thread.c's claim: while the TCS is
 * busy no other thread can use it, and the SSA page cannot leave the EPC
 * while the thread is counted inside (EWB needs it to have left), so the
 * short sections below need no ordering with other leaves.  Nothing here
 * allocates: everything may run in a signal handler.
 */
#include <string.h>

#include "cpu/cpu_internal.h"

/* Offsets in an SSA frame's last page: GPRSGX at its end, EXINFO (the
 * first MISC component) just below it (SDM, "Layout of MISC region"). */
#define SSA_GPRS_OFFSET (SGX_PAGE_SIZE - SGX_SSA_GPRS_SIZE)
#define SSA_EXINFO_OFFSET (SSA_GPRS_OFFSET - SGX_SSA_MISC_EXINFO_SIZE)

/* What the leaves read of a TCS and its SECS. */
struct tcs_view {
	uint64_t ossa, oentry, ofsbase, ogsbase;
	uint32_t cssa;
	uint64_t secs; /* frame index */
	uint64_t base, size;
	uint32_t ssa_frame_pages, miscselect;
	uint64_t attributes, xfrm;
};

/* Reads the TCS at frame idx, which must be the TCS at tcs_linaddr (#PF
 * otherwise: the translation the caller made does not hold), and its
 * SECS. */
static int tcs_read(struct sgx_cpu *cpu, uint64_t idx, uint64_t tcs_linaddr, struct tcs_view *v)
{
	struct epcm_entry *e = &cpu->epcm[idx];
	const struct sgx_tcs *tcs;
	const struct sgx_secs *s;
	int ret = 0;

	frame_raw_lock(&e->lock);
	if (!e->valid || e->type != SGX_PAGE_TYPE_TCS || e->linaddr != tcs_linaddr) {
		ret = PF;
	} else {
		tcs = (const struct sgx_tcs *)cpu_frame_ptr(cpu, idx);
		v->ossa = tcs->ssa_offset;
		v->cssa = tcs->ssa_index;
		v->oentry = tcs->entry_offset;
		v->ofsbase = tcs->fs_offset;
		v->ogsbase = tcs->gs_offset;
		v->secs = e->secs;
	}
	frame_raw_unlock(&e->lock);
	if (ret)
		return ret;
	e = &cpu->epcm[v->secs];
	frame_raw_lock(&e->lock);
	if (!e->valid || e->type != SGX_PAGE_TYPE_SECS) {
		ret = GP;
	} else {
		s = (const struct sgx_secs *)cpu_frame_ptr(cpu, v->secs);
		v->base = s->base;
		v->size = s->size;
		v->ssa_frame_pages = s->ssa_frame_size;
		v->miscselect = s->miscselect;
		v->attributes = s->attributes;
		v->xfrm = s->xfrm;
	}
	frame_raw_unlock(&e->lock);
	return ret;
}

/* Linear address of the last page of SSA frame `frame`. */
static uint64_t ssa_last_page(const struct tcs_view *v, uint64_t frame)
{
	return v->base + v->ossa +
	       (frame * v->ssa_frame_pages + v->ssa_frame_pages - 1) * SGX_PAGE_SIZE;
}

int enclu_ssa_linaddr(struct sgx_cpu *cpu, void *tcs, uint64_t tcs_linaddr, bool resume,
		      uint64_t *ssa_linaddr)
{
	struct tcs_view v;
	uint64_t idx;
	int ret;

	ret = cpu_epc_operand(cpu, tcs, &idx);
	if (ret)
		return ret;
	ret = tcs_read(cpu, idx, tcs_linaddr, &v);
	if (ret)
		return ret;
	if (resume && v.cssa == 0)
		return GP;
	*ssa_linaddr = ssa_last_page(&v, resume ? v.cssa - 1 : v.cssa);
	return 0;
}

/* SDM, EENTER and ERESUME: "If one or more pages of the current SSA frame
 * are not readable/writable, or do not resolve to a valid PT_REG EPC
 * page", #PF.  Locks the page on success (it is then the frame the leaf
 * uses: index in *out). */
static int ssa_lock(struct sgx_cpu *cpu, void *ssa, uint64_t linaddr, uint64_t secs,
		    uint64_t *out)
{
	struct epcm_entry *e;
	uint64_t i;
	int ret;

	ret = cpu_epc_operand(cpu, ssa, &i);
	if (ret)
		return ret;
	e = &cpu->epcm[i];
	frame_raw_lock(&e->lock);
	if (!e->valid || e->blocked || e->pending || e->modified || e->poisoned ||
	    e->type != SGX_PAGE_TYPE_REG || e->linaddr != linaddr || e->secs != secs ||
	    (e->perms & (SGX_SECINFO_R | SGX_SECINFO_W)) != (SGX_SECINFO_R | SGX_SECINFO_W)) {
		frame_raw_unlock(&e->lock);
		return PF;
	}
	*out = i;
	return 0;
}

/* An FXSAVE image fxrstor takes: MXCSR with its reserved bits clear (the
 * state of a frame no AEX has written is all zero, and is not taken). */
static bool fxsave_usable(const uint8_t *fx)
{
	uint32_t mxcsr;

	memcpy(&mxcsr, fx + 24, sizeof(mxcsr));
	return mxcsr != 0 && (mxcsr & ~0xFFFFU) == 0;
}

static int enter_common(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs,
			uint64_t tcs_linaddr, void *ssa, uint64_t aep, bool resume, uint64_t ursp,
			uint64_t urbp, struct sgx_enclu_entry *out)
{
	struct sgx_gprsgx *gprs;
	struct sgx_tcs *tcs_page;
	struct tcs_view v;
	uint64_t idx, sidx, frame, ssa_lin;
	uint8_t *bytes;
	int ret;

	ret = sgx_cpu_thread_enter(cpu, t, tcs);
	if (ret)
		return ret;
	idx = (uint64_t)cpu_frame_index(cpu, tcs);
	ret = tcs_read(cpu, idx, tcs_linaddr, &v);
	if (ret)
		goto err;
	if (resume && v.cssa == 0) {
		ret = GP; /* no interrupted state to resume */
		goto err;
	}
	frame = resume ? v.cssa - 1 : v.cssa;
	ssa_lin = ssa_last_page(&v, frame);
	ret = ssa_lock(cpu, ssa, ssa_lin, v.secs, &sidx);
	if (ret)
		goto err;
	bytes = cpu_frame_ptr(cpu, sidx);
	gprs = (struct sgx_gprsgx *)(bytes + SSA_GPRS_OFFSET);
	memset(out, 0, sizeof(*out));
	if (!resume) {
		/* "Save the outside RSP and RBP into the current SSA frame." */
		gprs->ursp = ursp;
		gprs->urbp = urbp;
	} else {
		memcpy(&out->gprs, gprs, sizeof(out->gprs));
		/* The XSAVE region starts the frame; with one page per frame
		 * it is this page. */
		if (v.ssa_frame_pages == 1 && fxsave_usable(bytes)) {
			memcpy(out->fxsave, bytes, sizeof(out->fxsave));
			out->fxsave_valid = true;
		}
	}
	frame_raw_unlock(&cpu->epcm[sidx].lock);

	/* "The AEP contained in RCX is stored into the TCS for use by AEXs";
	 * ERESUME pops the frame it resumes. */
	frame_raw_lock(&cpu->epcm[idx].lock);
	tcs_page = (struct sgx_tcs *)cpu_frame_ptr(cpu, idx);
	tcs_page->exit_addr = aep;
	if (resume)
		tcs_page->ssa_index = v.cssa - 1;
	frame_raw_unlock(&cpu->epcm[idx].lock);

	t->base = v.base;
	t->size = v.size;
	t->tcs_linaddr = tcs_linaddr;
	t->aep = aep;
	t->ssa = ssa;
	t->ssa_linaddr = ssa_lin;
	t->ssa_frame_pages = v.ssa_frame_pages;
	t->miscselect = v.miscselect;
	t->attributes = v.attributes;
	t->xfrm = v.xfrm;
	out->rip = resume ? out->gprs.rip : v.base + v.oentry;
	out->cssa = v.cssa;
	out->fsbase = v.base + v.ofsbase;
	out->gsbase = v.base + v.ogsbase;
	return 0;
err:
	sgx_cpu_thread_exit(cpu, t);
	return ret;
}

int enclu_eenter(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs, uint64_t tcs_linaddr,
		 void *ssa, uint64_t aep, uint64_t ursp, uint64_t urbp, struct sgx_enclu_entry *out)
{
	return enter_common(cpu, t, tcs, tcs_linaddr, ssa, aep, false, ursp, urbp, out);
}

int enclu_eresume(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs, uint64_t tcs_linaddr,
		  void *ssa, uint64_t aep, struct sgx_enclu_entry *out)
{
	return enter_common(cpu, t, tcs, tcs_linaddr, ssa, aep, true, 0, 0, out);
}

static void thread_clear(struct sgx_cpu_thread *t)
{
	t->base = t->size = t->tcs_linaddr = t->aep = t->ssa_linaddr = 0;
	t->ssa = NULL;
	t->ssa_frame_pages = t->miscselect = 0;
	t->attributes = t->xfrm = 0;
}

uint64_t enclu_eexit(struct sgx_cpu *cpu, struct sgx_cpu_thread *t)
{
	uint64_t aep = t->aep;

	sgx_cpu_thread_exit(cpu, t);
	thread_clear(t);
	return aep;
}

/* SDM, "Layout of EXITINFO Field": VALID for the exceptions reported
 * inside an enclave, #PF and #GP only with MISCSELECT.EXINFO. */
static uint32_t exitinfo(const struct sgx_enclu_event *ev, uint32_t miscselect)
{
	static const uint32_t always = (1U << 0) | (1U << 1) | (1U << 3) | (1U << 5) | (1U << 6) |
				       (1U << 16) | (1U << 17) | (1U << 19);
	uint32_t v;

	if (ev->vector < 0 || ev->vector > 31)
		return 0;
	v = (uint32_t)ev->vector;
	if (!(always & (1U << v)) &&
	    !((v == X86_TRAP_PF || v == X86_TRAP_GP) && (miscselect & SGX_MISC_EXINFO)))
		return 0;
	return v | ((ev->software ? SGX_EXITINFO_TYPE_SW : SGX_EXITINFO_TYPE_HW)
		    << SGX_EXITINFO_TYPE_SHIFT) |
	       SGX_EXITINFO_VALID;
}

void enclu_aex(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, const struct sgx_gprsgx *state,
	       const struct sgx_enclu_event *ev, struct sgx_gprsgx *synthetic)
{
	int64_t sidx = cpu_frame_index(cpu, t->ssa), tidx = cpu_frame_index(cpu, t->tcs);
	struct sgx_gprsgx *gprs;
	struct sgx_tcs *tcs;
	uint64_t ursp = 0, urbp = 0;
	uint8_t *bytes;

	memset(synthetic, 0, sizeof(*synthetic));
	if (sidx >= 0) {
		frame_raw_lock(&cpu->epcm[sidx].lock);
		bytes = cpu_frame_ptr(cpu, (uint64_t)sidx);
		gprs = (struct sgx_gprsgx *)(bytes + SSA_GPRS_OFFSET);
		ursp = gprs->ursp;
		urbp = gprs->urbp;
		memcpy(gprs, state, sizeof(*gprs));
		gprs->ursp = ursp;
		gprs->urbp = urbp;
		gprs->exitinfo = exitinfo(ev, t->miscselect);
		gprs->reserved = 0;
		if ((t->miscselect & SGX_MISC_EXINFO) &&
		    (ev->vector == X86_TRAP_PF || ev->vector == X86_TRAP_GP)) {
			struct sgx_exinfo ex = {
				.maddr = ev->vector == X86_TRAP_PF ? ev->maddr : 0,
				.errcd = ev->error_code,
			};

			memcpy(bytes + SSA_EXINFO_OFFSET, &ex, sizeof(ex));
		}
		if (ev->fxsave && t->ssa_frame_pages == 1)
			memcpy(bytes, ev->fxsave, 512);
		frame_raw_unlock(&cpu->epcm[sidx].lock);
	}
	if (tidx >= 0) {
		frame_raw_lock(&cpu->epcm[tidx].lock);
		tcs = (struct sgx_tcs *)cpu_frame_ptr(cpu, (uint64_t)tidx);
		tcs->ssa_index++;
		frame_raw_unlock(&cpu->epcm[tidx].lock);
	}
	/* The synthetic state (SDM, "State Saving by AEX"). */
	synthetic->rax = ERESUME;
	synthetic->rbx = t->tcs_linaddr;
	synthetic->rcx = t->aep;
	synthetic->rsp = ursp;
	synthetic->rbp = urbp;
	synthetic->rip = t->aep;
	synthetic->rflags = 0x202;
	sgx_cpu_thread_exit(cpu, t);
	thread_clear(t);
}
