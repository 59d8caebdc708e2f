/*
 * thread.c: logical processors inside enclaves, as the tracking that
 * ETRACK and EWB rely on sees them.
 *
 * sgx_cpu_thread_enter() is the part of EENTER/ERESUME that claims a TCS
 * and counts the thread inside the enclave; sgx_cpu_thread_exit() is the
 * part of EEXIT and AEX that gives it back.  A thread is counted in its
 * SECS's nr_active_cur while the epoch it entered in is current and in
 * nr_active_prev after one ETRACK (paging.c); leaving decrements whichever
 * counts it.  The TCS is marked busy in its EPCM entry, where software
 * cannot reach it, rather than in TCS.STATE.
 *
 * Locks: the TCS frame, then its SECS, as every leaf takes a target and
 * then its SECS (cpu_internal.h).  Leaving takes them as the processor's
 * own bookkeeping (frame_raw_lock()), which no leaf sees as a conflict:
 * EEXIT and AEX take no EPC page operand, so no leaf's concurrency table
 * has a conflict with them, and a write-back of the TCS a thread is just
 * leaving through waits for it rather than fault.
 */
#include <stdlib.h>
#include <unistd.h>

#include "base/debug.h"
#include "cpu/cpu_internal.h"


/* The TCS checks EENTER makes of its EPCM entry: a valid, unblocked TCS,
 * neither pending nor modified (else #PF), and not in use (else #GP). */
static int tcs_usable(const struct epcm_entry *e)
{
	if (!e->valid || e->blocked || e->type != SGX_PAGE_TYPE_TCS || e->pending || e->modified)
		return PF;
	if (e->tcs_busy)
		return GP;
	return 0;
}

/*
 * SDM, EENTER: the checks of the TCS's own fields, all #GP(0): a reserved
 * bit of FLAGS set ("(DS:RBX).FLAGS & FFFFFFFFFFFFFFFCH"), CSSA not below
 * NSSA, and OSSA, OFSBASE or OGSBASE not 4 KiB aligned (EADD accepts such a
 * TCS; it is EENTER that refuses it).
 */
static int tcs_fields_check(const struct sgx_tcs *tcs)
{
	/* FLAGS.AEXNOTIFY is a must-be-zero bit here, as on a processor
	 * without AEX-Notify: the model does not offer it (CPUID leaf 0x12
	 * leaves the attribute out).  With AEX-Notify, the SDM's EENTER would
	 * instead refuse a TCS whose AEXNOTIFY differs from the SECS's unless
	 * FLAGS.DBGOPTIN is set. */
	if (tcs->flags & (SGX_TCS_RESERVED_MASK | SGX_TCS_AEXNOTIFY))
		return GP;
	if (tcs->ssa_index >= tcs->nr_ssa_frames)
		return GP;
	if ((tcs->ssa_offset | tcs->fs_offset | tcs->gs_offset) & (SGX_PAGE_SIZE - 1))
		return GP;
	return 0;
}

/* The bookkeeping of a thread leaving through the busy TCS e (SECS frame
 * sidx), which entered in epoch.  Context: e's lock held. */
static void tcs_leave(struct sgx_cpu *cpu, struct epcm_entry *e, uint64_t sidx, uint64_t epoch)
{
	struct secs_private *sp;

	e->tcs_busy = false;
	e->tcs_pid = 0;
	frame_raw_lock(&cpu->epcm[sidx].lock);
	sp = secs_private(cpu_frame_ptr(cpu, sidx));
	SGXEMU_ASSERT(sp->nr_threads > 0);
	sp->nr_threads--;
	if (epoch == sp->epoch) {
		SGXEMU_ASSERT(sp->nr_active_cur > 0);
		sp->nr_active_cur--;
	} else {
		/* ETRACK cannot advance twice while this thread is inside. */
		SGXEMU_ASSERT(epoch + 1 == sp->epoch && sp->nr_active_prev > 0);
		sp->nr_active_prev--;
	}
	frame_raw_unlock(&cpu->epcm[sidx].lock);
}

int sgx_cpu_thread_reap(struct sgx_cpu *cpu, int pid)
{
	int n = 0;

	if (pid <= 0)
		return 0;
	for (uint64_t f = 0; f < cpu->nr_frames; f++) {
		struct epcm_entry *e = &cpu->epcm[f];

		frame_raw_lock(&e->lock);
		if (e->valid && e->type == SGX_PAGE_TYPE_TCS && e->tcs_busy && e->tcs_pid == pid &&
		    e->secs < cpu->nr_frames) {
			tcs_leave(cpu, e, e->secs, e->tcs_epoch);
			n++;
		}
		frame_raw_unlock(&e->lock);
	}
	return n;
}

int sgx_cpu_thread_enter(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs)
{
	struct secs_private *sp;
	struct epcm_entry *e;
	uint64_t idx, sidx;
	int ret;

	if (t->tcs)
		return GP; /* already in enclave mode */
	ret = cpu_epc_operand(cpu, tcs, &idx);
	if (ret)
		return ret;
	/* The Base Concurrency Restrictions of EENTER: TCS [DS:RBX] Shared,
	 * #GP on conflict; its SECS is Concurrent (it waits). */
	ret = cpu_frame_trylock(cpu, idx);
	if (ret)
		return cpu_conflict_as(ret, GP);
	e = &cpu->epcm[idx];
	ret = tcs_usable(e);
	if (ret)
		goto out_tcs;
	sidx = e->secs;
	ret = cpu_frame_lock(cpu, sidx);
	if (ret)
		goto out_tcs;
	if (!cpu->epcm[sidx].valid || cpu->epcm[sidx].type != SGX_PAGE_TYPE_SECS) {
		ret = GP; /* cannot be while the TCS is resident; be safe */
		goto out_secs;
	}
	sp = secs_private(cpu_frame_ptr(cpu, sidx));
	if (!sp->initialized) {
		ret = GP;
		goto out_secs;
	}
	ret = tcs_fields_check((const struct sgx_tcs *)cpu_frame_ptr(cpu, idx));
	if (ret)
		goto out_secs;
	e->tcs_busy = true;
	e->tcs_pid = (int32_t)getpid();
	e->tcs_epoch = sp->epoch;
	sp->nr_threads++;
	sp->nr_active_cur++;
	t->tcs = tcs;
	t->secs = cpu_frame_addr(cpu, sidx);
	t->entry_epoch = sp->epoch;
	ret = 0;
out_secs:
	cpu_frame_unlock(cpu, sidx);
out_tcs:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

void sgx_cpu_thread_exit(struct sgx_cpu *cpu, struct sgx_cpu_thread *t)
{
	struct epcm_entry *e;
	int64_t idx, sidx;

	if (!t->tcs)
		return;
	idx = cpu_frame_index(cpu, t->tcs);
	sidx = cpu_frame_index(cpu, t->secs);
	SGXEMU_ASSERT(idx >= 0 && sidx >= 0);
	if (idx < 0 || sidx < 0)
		goto out;
	/* While the thread is inside, its TCS stays busy and resident (EWB
	 * needs the tracking this thread holds up; EREMOVE answers
	 * SGX_ENCLAVE_ACT), and so does its SECS.  The bookkeeping completes
	 * whatever the frames' poison state. */
	e = &cpu->epcm[idx];
	frame_raw_lock(&e->lock);
	SGXEMU_ASSERT(e->valid && e->type == SGX_PAGE_TYPE_TCS && e->tcs_busy &&
		     e->secs == (uint64_t)sidx);
	tcs_leave(cpu, e, (uint64_t)sidx, t->entry_epoch);
	frame_raw_unlock(&e->lock);
out:
	t->tcs = NULL;
	t->secs = NULL;
	t->entry_epoch = 0;
}
