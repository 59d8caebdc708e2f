/*
 * paging.c: the paging leaves EPA, EBLOCK, ETRACK, EWB, ELDU and ELDB.
 *
 * They follow the SDM's state machine.  EBLOCK marks a REG, TCS or TRIM
 * page blocked and records the SECS's tracking epoch in the page's EPCM
 * entry.  ETRACK starts a new epoch: the threads inside the enclave become
 * the previous epoch's, and a second ETRACK is refused (SGX_PREV_TRK_INCMPL)
 * until they have all left.  EWB of a blocked page needs an ETRACK after
 * the block whose threads have all left (else SGX_NOT_TRACKED); EWB of a
 * SECS needs no children (SGX_CHILD_PRESENT); VA pages need neither.
 *
 * Cryptography.  EWB encrypts the page with AES-128-GCM under the machine's
 * paging key (cpu->keys.paging_key, which never leaves the processor).  The
 * 96-bit IV is the page's version, a per-machine counter that never
 * repeats (in steps of VA_VERSION_STEP), followed by four zero bytes.  The authenticated header binds
 *
 *	PCMD bytes 0..111   SECINFO (type, RWX, PENDING, MODIFIED, PR),
 *	                    ENCLAVEID and RESERVED, exactly as written out
 *	linear address      the EPCM's (0 for SECS and VA pages)
 *	EID                 of the owning SECS (0 for SECS and VA pages)
 *	version             the value the VA slot receives
 *
 * so ELDU/ELDB, which rebuild the header from the PCMD, PAGEINFO.LINADDR,
 * the SECS operand and the VA slot, refuse with SGX_MAC_COMPARE_FAIL a page
 * with any byte changed, with a changed PCMD, at another address, in
 * another enclave, or an older copy (its version is no longer in any slot).
 * The SDM's header leaves PCMD.ENCLAVEID out; binding it too means a
 * changed PCMD is always caught, and a SECS's handle cannot be swapped.
 *
 * The one check that comes before the MAC is the page type in
 * PCMD.SECINFO, which decides whether PAGEINFO.SECS must name a SECS: an
 * unknown type, or a SECS or VA type with a SECS operand, is #GP(0) as the
 * SDM's pseudo-code has it.
 *
 * Locking.  The target frame is try-locked; a conflict answers what the
 * leaf's Base Concurrency Restrictions table says: #GP for EPA (VA
 * [DS:RCX] Exclusive), EWB (Source [DS:RCX] Exclusive, VA [DS:RDX]
 * Shared) and ELDB/ELDU (Target [DS:RCX] Exclusive, VA [DS:RDX] and SECS
 * [PAGEINFO.SECS] Shared); SGX_EPC_PAGE_CONFLICT for EBLOCK (Target
 * [DS:RCX] Shared); #GP for ETRACK (SECS [DS:RCX] Shared) except against
 * another ETRACK, where its Additional table says SGX_EPC_PAGE_CONFLICT.
 * The VA page is shared: a leaf that uses one of its slots pins it
 * (epcm_entry.va_users, taken under the VA frame's lock), so that EWB and
 * ELDU on different pages of one enclave can use slots of the same VA
 * page at once; a leaf that takes a pinned VA page as its target gets #GP,
 * and a pin that finds the VA page held by a leaf whose target it is gets
 * #GP too.  EWB pins before it locks its target; ELDU/ELDB, which the SDM
 * has check the target before the VA page, pin with the target locked.
 * Either is safe: the VA frame's lock is held only to pin, or by a leaf
 * whose target the VA page is, and neither waits for another frame
 * meanwhile.  Slots are read and written with
 * atomic operations.  The SECS lock is taken last, and never held across
 * the cryptography: EWB keeps its page counted in child_count until the
 * page is gone, and ELDU counts the page it is loading before it decrypts,
 * so the SECS cannot be written back or removed underneath either.
 *
 * Cost.  One AES-GCM pass over the page plus two 4 KiB copies (the
 * ciphertext goes through a per-thread buffer so that the MAC covers what
 * the processor produced, not what untrusted memory holds a moment later),
 * and no allocation: each thread keeps its cipher contexts, keyed once per
 * machine (sgx_cpu_paging_prepare() makes them ahead of time).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"

#define GCM_IV_SIZE 12
#define GCM_TAG_SIZE 16

/* The authenticated header of a written-back page (see the top). */
struct paging_aad {
	uint8_t pcmd_head[offsetof(struct sgx_pcmd, mac)];
	uint64_t linaddr;
	uint64_t eid;
	uint64_t version;
} __attribute__((packed));
_Static_assert(sizeof(struct paging_aad) == 136, "paging header is 136 bytes");

/* --- Per-thread cipher contexts ----------------------------------------- */

/*
 * Each thread (logical processor) keeps one encryption and one decryption
 * context and a page of scratch.  A context holds the key schedule of the
 * machine whose generation it records; a leaf on another machine re-keys
 * it.  The block is freed by the thread-specific-data destructor when the
 * thread exits.
 */
struct paging_ctx {
	uint8_t scratch[SGX_PAGE_SIZE];
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	uint64_t enc_gen; /* machine generation enc is keyed for, 0: none */
	uint64_t dec_gen;
};

static __thread struct paging_ctx *this_ctx;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static bool ctx_key_ok;
static EVP_CIPHER *aes_gcm; /* fetched once, kept for the process's life */

static void ctx_free(void *p)
{
	struct paging_ctx *c = p;

	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
	OPENSSL_cleanse(c->scratch, sizeof(c->scratch));
	free(c);
}

static void ctx_init_once(void)
{
	ctx_key_ok = pthread_key_create(&ctx_key, ctx_free) == 0;
	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
}

/* The calling thread's contexts, made on first use; NULL if OpenSSL or
 * malloc fails. */
static struct paging_ctx *ctx_get(void)
{
	struct paging_ctx *c = this_ctx;

	if (c)
		return c;
	pthread_once(&ctx_once, ctx_init_once);
	if (!ctx_key_ok || !aes_gcm)
		return NULL;
	if (posix_memalign((void **)&c, 64, sizeof(*c)))
		return NULL;
	memset(c, 0, sizeof(*c));
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	if (!c->enc || !c->dec || pthread_setspecific(ctx_key, c)) {
		ctx_free(c);
		return NULL;
	}
	this_ctx = c;
	return c;
}

/* Prepares ctx for one page under cpu's key with this IV.  Keying costs a
 * key schedule, once per thread and machine; after that only the IV is
 * set.  Returns false if OpenSSL fails. */
static bool ctx_start(const struct sgx_cpu *cpu, EVP_CIPHER_CTX *ctx, uint64_t *gen,
		      const uint8_t iv[GCM_IV_SIZE], bool encrypt)
{
	const EVP_CIPHER *cipher = NULL;
	const uint8_t *key = NULL;
	int ok;

	if (*gen != cpu->gen) {
		*gen = 0;
		cipher = aes_gcm;
		key = cpu->keys.paging_key;
	}
	if (encrypt)
		ok = EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL);
	else
		ok = EVP_DecryptInit_ex2(ctx, cipher, key, iv, NULL);
	if (!ok)
		return false;
	*gen = cpu->gen;
	return true;
}

int sgx_cpu_paging_prepare(struct sgx_cpu *cpu)
{
	static const uint8_t iv[GCM_IV_SIZE];
	struct paging_ctx *c = ctx_get();

	if (!c)
		return -ENOMEM;
	if (!ctx_start(cpu, c->enc, &c->enc_gen, iv, true) ||
	    !ctx_start(cpu, c->dec, &c->dec_gen, iv, false))
		return -ENOMEM;
	return 0;
}

static void version_iv(uint64_t version, uint8_t iv[GCM_IV_SIZE])
{
	memset(iv, 0, GCM_IV_SIZE);
	memcpy(iv, &version, sizeof(version));
}

/* Encrypts the 4 KiB at plain into out under the header; tag receives the
 * MAC.  0, or -ENOMEM if OpenSSL fails. */
static int page_seal(const struct sgx_cpu *cpu, struct paging_ctx *c,
		     const struct paging_aad *aad, const uint8_t *plain, uint8_t *out,
		     uint8_t tag[GCM_TAG_SIZE])
{
	uint8_t iv[GCM_IV_SIZE];
	int len;

	version_iv(aad->version, iv);
	if (!ctx_start(cpu, c->enc, &c->enc_gen, iv, true) ||
	    !EVP_EncryptUpdate(c->enc, NULL, &len, (const uint8_t *)aad, sizeof(*aad)) ||
	    !EVP_EncryptUpdate(c->enc, out, &len, plain, SGX_PAGE_SIZE) || len != SGX_PAGE_SIZE ||
	    !EVP_EncryptFinal_ex(c->enc, out + len, &len) ||
	    !EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_GCM_GET_TAG, GCM_TAG_SIZE, tag))
		return -ENOMEM;
	return 0;
}

/* Decrypts the page in place and checks its MAC.  0 if it matches, 1 if it
 * does not, -ENOMEM if OpenSSL fails. */
static int page_open(const struct sgx_cpu *cpu, struct paging_ctx *c,
		     const struct paging_aad *aad, uint8_t *page, const uint8_t tag[GCM_TAG_SIZE])
{
	uint8_t iv[GCM_IV_SIZE], want[GCM_TAG_SIZE];
	int len;

	memcpy(want, tag, sizeof(want));
	version_iv(aad->version, iv);
	if (!ctx_start(cpu, c->dec, &c->dec_gen, iv, false) ||
	    !EVP_DecryptUpdate(c->dec, NULL, &len, (const uint8_t *)aad, sizeof(*aad)) ||
	    !EVP_DecryptUpdate(c->dec, page, &len, page, SGX_PAGE_SIZE) || len != SGX_PAGE_SIZE ||
	    !EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_GCM_SET_TAG, GCM_TAG_SIZE, want))
		return -ENOMEM;
	return EVP_DecryptFinal_ex(c->dec, page + len, &len) > 0 ? 0 : 1;
}

/* --- Operands --------------------------------------------------------------- */

static bool is_child_type(unsigned int type)
{
	return type == SGX_PAGE_TYPE_REG || type == SGX_PAGE_TYPE_TCS ||
	       type == SGX_PAGE_TYPE_TRIM;
}

/* Takes a frame lock whatever the frame's poison state: for bookkeeping
 * that must complete once a leaf has committed (an implicit SECS). */
static void frame_lock_always(struct sgx_cpu *cpu, uint64_t index)
{
	(void)frame_acquire(&cpu->epcm[index].lock, FRAME_OPERAND, 0);
}

/* Try-locks a target frame for a leaf whose conflicts are #GP. */
static int target_trylock_gp(struct sgx_cpu *cpu, uint64_t index)
{
	return cpu_conflict_as(cpu_frame_trylock(cpu, index), GP);
}

/* The operands EWB and ELDU/ELDB share: PAGEINFO 32-byte aligned, the EPC
 * page 4 KiB aligned and in the EPC, the VA slot 8-byte aligned and in the
 * EPC.  Copies PAGEINFO (it lives in untrusted memory) into pi. */
static int paging_operands(const struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo,
			   struct sgx_pageinfo *pi, void *epc, uint64_t *idx, void *va_slot,
			   uint64_t *vidx)
{
	int64_t v;
	int ret;

	if ((uintptr_t)pginfo & 31)
		return GP;
	if (!pginfo)
		return PF;
	ret = cpu_epc_operand(cpu, epc, idx);
	if (ret)
		return ret;
	if ((uintptr_t)va_slot & (SGX_VA_SLOT_SIZE - 1))
		return GP;
	v = cpu_frame_index(cpu, va_slot);
	if (v < 0)
		return PF;
	*vidx = (uint64_t)v;
	memcpy(pi, pginfo, sizeof(*pi));
	return 0;
}

/* The 8 bytes of a VA slot, where the VA page's bytes are.  Stable while
 * the VA page is pinned (a valid frame is never rebound). */
static uint64_t *va_slot_ptr(const struct sgx_cpu *cpu, uint64_t vidx, const void *va_slot)
{
	return (uint64_t *)(cpu_frame_ptr(cpu, vidx) + ((uintptr_t)va_slot & (SGX_PAGE_SIZE - 1)));
}

/* PAGEINFO.SRCPGE (4 KiB aligned) and PAGEINFO.PCMD (128-byte aligned) are
 * ordinary memory: unaligned is #GP, NULL or inside the EPC is #PF. */
static int paging_buffers(const struct sgx_cpu *cpu, const struct sgx_pageinfo *pi)
{
	if ((pi->contents & (SGX_PAGE_SIZE - 1)) || (pi->metadata & (sizeof(struct sgx_pcmd) - 1)))
		return GP;
	if (!pi->contents || !pi->metadata)
		return PF;
	if (cpu_frame_index(cpu, (const void *)(uintptr_t)pi->contents) >= 0 ||
	    cpu_frame_index(cpu, (const void *)(uintptr_t)pi->metadata) >= 0)
		return PF;
	return 0;
}

/* Pins the VA page vidx for the use of one slot: #PF unless it is a valid
 * VA page, #GP if a leaf holds it as its target (EWB and ELDB/ELDU take
 * VA [DS:RDX] Shared), #MC if poisoned.  Called with no frame lock held
 * but, for ELDU/ELDB, the target's (see Locking above). */
static int va_pin(struct sgx_cpu *cpu, uint64_t vidx)
{
	struct epcm_entry *v = &cpu->epcm[vidx];
	int ret;

	ret = cpu_conflict_as(cpu_operand_lock(cpu, vidx), GP);
	if (ret)
		return ret;
	if (!v->valid || v->type != SGX_PAGE_TYPE_VA) {
		cpu_frame_unlock(cpu, vidx);
		return PF;
	}
	atomic_fetch_add(&v->va_users, 1);
	cpu_frame_unlock(cpu, vidx);
	return 0;
}

static void va_unpin(struct sgx_cpu *cpu, uint64_t vidx)
{
	atomic_fetch_sub(&cpu->epcm[vidx].va_users, 1);
}

/* EWB's tracking rule for a page blocked in epoch bepoch: an ETRACK came
 * after the block, and every thread that was inside at that ETRACK has
 * left.  A second ETRACK implies the first completed (ETRACK refuses to
 * start while the previous epoch's threads are inside). */
static bool tracking_done(const struct secs_private *sp, uint64_t bepoch)
{
	if (sp->epoch >= bepoch + 2)
		return true;
	return sp->epoch == bepoch + 1 && sp->nr_active_prev == 0;
}

/* Locks the SECS an ETRACK or ELDU/ELDB operand names: #GP unaligned, #PF
 * not in the EPC, the frame not_idx (the leaf's locked target), or not a
 * valid SECS; #GP if a leaf holds it as its target (both take it Shared);
 * #MC if poisoned. */
static int secs_operand_lock(struct sgx_cpu *cpu, uint64_t addr, uint64_t not_idx, uint64_t *sidx)
{
	struct epcm_entry *s;
	int ret;

	ret = cpu_epc_operand(cpu, (const void *)(uintptr_t)addr, sidx);
	if (ret)
		return ret;
	if (*sidx == not_idx)
		return PF;
	ret = cpu_conflict_as(cpu_operand_lock(cpu, *sidx), GP);
	if (ret)
		return ret;
	s = &cpu->epcm[*sidx];
	if (!s->valid || s->type != SGX_PAGE_TYPE_SECS) {
		cpu_frame_unlock(cpu, *sidx);
		return PF;
	}
	return 0;
}

static void epcm_invalidate(struct epcm_entry *e)
{
	e->valid = false;
	e->blocked = e->pending = e->modified = e->pr = false;
	e->tcs_busy = false;
	e->type = 0;
	e->perms = 0;
	e->linaddr = 0;
	e->secs = 0;
	e->bepoch = 0;
}

/* --- EPA, EBLOCK, ETRACK ------------------------------------------------ */

int encls_epa(struct sgx_cpu *cpu, void *epc)
{
	struct epcm_entry *e;
	uint64_t idx;
	int ret;

	ret = cpu_epc_operand(cpu, epc, &idx);
	if (ret)
		return ret;
	ret = target_trylock_gp(cpu, idx);
	if (ret)
		return ret;
	e = &cpu->epcm[idx];
	if (e->valid) {
		ret = PF;
		goto out;
	}
	if (cpu_frame_pinned(e)) {
		ret = GP; /* a slot leaf still holds the frame's former VA page */
		goto out;
	}
	memset(cpu_frame_ptr(cpu, idx), 0, SGX_PAGE_SIZE);
	epcm_invalidate(e);
	e->type = SGX_PAGE_TYPE_VA;
	e->valid = true;
	ret = 0;
out:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

int encls_eblock(struct sgx_cpu *cpu, void *epc)
{
	struct epcm_entry *e;
	uint64_t idx, sidx;
	int ret;

	/* The Base Concurrency Restrictions of EBLOCK: Target [DS:RCX]
	 * Shared, SGX_EPC_PAGE_CONFLICT on conflict; the SECS is Concurrent. */
	ret = cpu_lock_operand(cpu, epc, &idx, SGX_EPC_PAGE_CONFLICT);
	if (ret)
		return ret;
	e = &cpu->epcm[idx];
	if (!e->valid) {
		ret = SGX_PG_INVLD;
		goto out;
	}
	if (!is_child_type(e->type)) {
		ret = e->type == SGX_PAGE_TYPE_SECS ? SGX_PG_IS_SECS : SGX_NOTBLOCKABLE;
		goto out;
	}
	if (e->blocked) {
		ret = SGX_BLKSTATE;
		goto out;
	}
	sidx = e->secs;
	ret = cpu_frame_lock(cpu, sidx);
	if (ret)
		goto out;
	e->bepoch = secs_private(cpu_frame_ptr(cpu, sidx))->epoch;
	cpu_frame_unlock(cpu, sidx);
	e->blocked = true;
	ret = 0;
out:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

int encls_etrack(struct sgx_cpu *cpu, void *secs)
{
	struct secs_private *sp;
	uint64_t sidx;
	int ret;

	/* SDM, ETRACK: the operand checks, then "Other Intel SGX instructions
	 * using tracking facility on this SECS" (SGX_EPC_PAGE_CONFLICT, its
	 * Additional Concurrency Restrictions vs. ETRACK), then the SECS,
	 * Shared against every other leaf (#GP). */
	ret = cpu_epc_operand(cpu, secs, &sidx);
	if (ret)
		return ret;
	if (!cpu_tracking_begin(cpu, sidx))
		return SGX_EPC_PAGE_CONFLICT;
	ret = secs_operand_lock(cpu, (uintptr_t)secs, UINT64_MAX, &sidx);
	if (ret)
		goto out_tracking;
	sp = secs_private(cpu_frame_ptr(cpu, sidx));
	if (sp->nr_active_prev) {
		ret = SGX_PREV_TRK_INCMPL;
	} else {
		sp->nr_active_prev = sp->nr_active_cur;
		sp->nr_active_cur = 0;
		sp->epoch++;
		ret = 0;
	}
	cpu_frame_unlock(cpu, sidx);
out_tracking:
	cpu_tracking_end(cpu, sidx);
	return ret;
}

/* --- EWB ------------------------------------------------------------------ */

/* EWB's checks of a REG/TCS/TRIM page against its SECS: blocked, tracked.
 * Returns 0 and the enclave's EID, or the SGX code. */
static int ewb_child_check(struct sgx_cpu *cpu, const struct epcm_entry *e, uint64_t *eid)
{
	struct secs_private *sp;
	int ret;

	if (!e->blocked)
		return SGX_PAGE_NOT_BLOCKED;
	ret = cpu_frame_lock(cpu, e->secs);
	if (ret)
		return ret;
	sp = secs_private(cpu_frame_ptr(cpu, e->secs));
	if (!tracking_done(sp, e->bepoch)) {
		ret = SGX_NOT_TRACKED;
	} else {
		*eid = sp->eid;
		ret = 0;
	}
	cpu_frame_unlock(cpu, e->secs);
	return ret;
}

static uint64_t secinfo_flags_of(const struct epcm_entry *e)
{
	return ((uint64_t)e->type << SGX_SECINFO_PAGE_TYPE_SHIFT) |
	       (e->perms & SGX_SECINFO_PERMISSION_MASK) |
	       (e->pending ? SGX_SECINFO_PENDING : 0) | (e->modified ? SGX_SECINFO_MODIFIED : 0) |
	       (e->pr ? SGX_SECINFO_PR : 0);
}

/* Context: target frame idx locked, VA page pinned. */
static int ewb_locked(struct sgx_cpu *cpu, const struct sgx_pageinfo *pi, uint64_t idx,
		      uint64_t *slot)
{
	struct epcm_entry *e = &cpu->epcm[idx];
	uint8_t *page = cpu_frame_ptr(cpu, idx);
	struct sgx_pcmd pcmd;
	struct paging_aad aad;
	struct paging_ctx *c;
	uint64_t eid = 0, handle = 0, linaddr = 0, old;
	bool child;
	int ret;

	if (!e->valid)
		return PF;
	if (cpu_frame_pinned(e))
		return GP; /* a VA page whose slots are in use */
	child = is_child_type(e->type);
	if (child) {
		ret = ewb_child_check(cpu, e, &eid);
		if (ret)
			return ret;
		handle = eid;
		linaddr = e->linaddr;
	} else if (e->type == SGX_PAGE_TYPE_SECS) {
		struct secs_private *sp = secs_private(page);

		if (sp->child_count)
			return SGX_CHILD_PRESENT;
		handle = sp->eid;
	}

	c = ctx_get();
	if (!c)
		return GP; /* no memory for the cipher context: nothing done */
	memset(&pcmd, 0, sizeof(pcmd));
	pcmd.secinfo.flags = secinfo_flags_of(e);
	pcmd.enclave_id = handle;
	memcpy(aad.pcmd_head, &pcmd, sizeof(aad.pcmd_head));
	aad.linaddr = linaddr;
	aad.eid = eid;
	aad.version = atomic_fetch_add(&cpu->next_version, VA_VERSION_STEP);
	if (page_seal(cpu, c, &aad, page, c->scratch, pcmd.mac))
		return GP;

	/* Commit: the output, the version, then the EPCM. */
	memcpy((void *)(uintptr_t)pi->contents, c->scratch, SGX_PAGE_SIZE);
	memcpy((void *)(uintptr_t)pi->metadata, &pcmd, sizeof(pcmd));
	old = __atomic_exchange_n(slot, aad.version, __ATOMIC_ACQ_REL);
	if (child) {
		uint64_t sidx = e->secs;

		frame_lock_always(cpu, sidx);
		secs_private(cpu_frame_ptr(cpu, sidx))->child_count--;
		cpu_frame_unlock(cpu, sidx);
	}
	epcm_invalidate(e);
	/* The SDM writes the version over an occupied slot and reports it. */
	return old ? SGX_VA_SLOT_OCCUPIED : 0;
}

int encls_ewb(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	struct sgx_pageinfo pi;
	uint64_t idx, vidx;
	int ret;

	ret = paging_operands(cpu, pginfo, &pi, epc, &idx, va_slot, &vidx);
	if (ret)
		return ret;
	if (idx == vidx)
		return GP;
	if (pi.addr || pi.secs)
		return GP;
	ret = paging_buffers(cpu, &pi);
	if (ret)
		return ret;

	ret = va_pin(cpu, vidx);
	if (ret)
		return ret;
	ret = target_trylock_gp(cpu, idx);
	if (ret)
		goto out_unpin;
	ret = ewb_locked(cpu, &pi, idx, va_slot_ptr(cpu, vidx, va_slot));
	cpu_frame_unlock(cpu, idx);
out_unpin:
	va_unpin(cpu, vidx);
	return ret;
}

/* --- ELDU / ELDB ------------------------------------------------------- */

/* What ELDU learns of the page's enclave before it decrypts. */
struct eld_owner {
	bool child; /* REG/TCS/TRIM: counted in the SECS's child_count */
	uint64_t sidx;
	uint64_t eid;
	uint64_t epoch;
};

/* Resolves the owner the PCMD's type calls for.  For a child page, locks
 * the SECS operand just long enough to read its EID and epoch and to count
 * the page in child_count (so the SECS stays while the page is loaded).
 * #GP for an unknown type or a SECS/VA page given a SECS. */
static int eld_owner(struct sgx_cpu *cpu, const struct sgx_pageinfo *pi, uint64_t idx,
		     unsigned int type, struct eld_owner *o)
{
	struct secs_private *sp;
	int ret;

	memset(o, 0, sizeof(*o));
	if (type == SGX_PAGE_TYPE_SECS || type == SGX_PAGE_TYPE_VA)
		return pi->secs ? GP : 0;
	if (!is_child_type(type))
		return GP;
	ret = secs_operand_lock(cpu, pi->secs, idx, &o->sidx);
	if (ret)
		return ret;
	sp = secs_private(cpu_frame_ptr(cpu, o->sidx));
	o->child = true;
	o->eid = sp->eid;
	o->epoch = sp->epoch;
	sp->child_count++;
	cpu_frame_unlock(cpu, o->sidx);
	return 0;
}

static void eld_owner_release(struct sgx_cpu *cpu, const struct eld_owner *o)
{
	if (!o->child)
		return;
	frame_lock_always(cpu, o->sidx);
	secs_private(cpu_frame_ptr(cpu, o->sidx))->child_count--;
	cpu_frame_unlock(cpu, o->sidx);
}

static void eld_install(struct epcm_entry *e, uint64_t idx, uint64_t flags, uint64_t linaddr,
			const struct eld_owner *o, bool blocked)
{
	unsigned int type = (flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;

	epcm_invalidate(e);
	e->type = (uint8_t)type;
	e->perms = (uint8_t)(flags & SGX_SECINFO_PERMISSION_MASK);
	e->pending = !!(flags & SGX_SECINFO_PENDING);
	e->modified = !!(flags & SGX_SECINFO_MODIFIED);
	e->pr = !!(flags & SGX_SECINFO_PR);
	e->linaddr = linaddr;
	if (o->child) {
		e->secs = o->sidx;
		/* Loaded blocked: no thread can have reached it, but EWB still
		 * wants an ETRACK after this point, as after an EBLOCK. */
		e->blocked = blocked;
		e->bepoch = o->epoch;
	} else if (type == SGX_PAGE_TYPE_SECS) {
		e->secs = idx;
	}
	e->valid = true;
}

/* Context: target frame idx locked and found free, VA page pinned. */
static int eld_locked(struct sgx_cpu *cpu, const struct sgx_pageinfo *pi, uint64_t idx,
		      uint64_t *slot, bool blocked)
{
	struct epcm_entry *e = &cpu->epcm[idx];
	uint8_t *page = cpu_frame_ptr(cpu, idx);
	struct sgx_pcmd pcmd;
	struct paging_aad aad;
	uint64_t expected;
	struct paging_ctx *c;
	struct eld_owner owner;
	unsigned int type;
	int ret, mac;

	if (cpu_frame_pinned(e))
		return GP; /* the frame's former VA page is still in use */
	c = ctx_get();
	if (!c)
		return GP; /* no memory for the cipher context: nothing done */

	/* The PCMD and the page come from untrusted memory: copy them in
	 * once, then work on the copies. */
	memcpy(&pcmd, (const void *)(uintptr_t)pi->metadata, sizeof(pcmd));
	type = (pcmd.secinfo.flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;
	ret = eld_owner(cpu, pi, idx, type, &owner);
	if (ret)
		return ret;

	memcpy(aad.pcmd_head, &pcmd, sizeof(aad.pcmd_head));
	aad.linaddr = pi->addr;
	aad.eid = owner.eid;
	aad.version = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	memcpy(page, (const void *)(uintptr_t)pi->contents, SGX_PAGE_SIZE);
	mac = aad.version ? page_open(cpu, c, &aad, page, pcmd.mac) : 1;
	if (mac) {
		ret = mac > 0 ? SGX_MAC_COMPARE_FAIL : GP;
		goto err_undo;
	}
	/* A SECS carries its EID inside; the PCMD's handle, bound by the MAC,
	 * must name it (it always does for a page EWB wrote). */
	if (type == SGX_PAGE_TYPE_SECS && secs_private(page)->eid != pcmd.enclave_id) {
		ret = SGX_MAC_COMPARE_FAIL;
		goto err_undo;
	}
	/* The slot must still hold the version the MAC was checked with. */
	expected = aad.version;
	if (!__atomic_compare_exchange_n(slot, &expected, 0, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		ret = GP;
		goto err_undo;
	}
	eld_install(e, idx, pcmd.secinfo.flags, pi->addr, &owner, blocked);
	return 0;

err_undo:
	memset(page, 0, SGX_PAGE_SIZE);
	eld_owner_release(cpu, &owner);
	return ret;
}

static int eld(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot,
	       bool blocked)
{
	struct sgx_pageinfo pi;
	uint64_t idx, vidx;
	int ret;

	ret = paging_operands(cpu, pginfo, &pi, epc, &idx, va_slot, &vidx);
	if (ret)
		return ret;
	ret = paging_buffers(cpu, &pi);
	if (ret)
		return ret;

	/*
	 * SDM, ELDB/ELDU, in the pseudo-code's order: "Check concurrency of
	 * EPC by other Intel SGX instructions" (#GP), then "EPCM(DS:RCX).VALID
	 * = 1" (#PF), and only then the VA page, "EPCM(DS:RDX & ~0FFFH).VALID
	 * = 0 or PT != PT_VA" (#PF).  A slot inside the target frame names a
	 * page that is not a valid VA page, since the target is free.
	 */
	ret = target_trylock_gp(cpu, idx);
	if (ret)
		return ret;
	if (cpu->epcm[idx].valid || vidx == idx) {
		ret = PF;
		goto out_target;
	}
	ret = va_pin(cpu, vidx);
	if (ret)
		goto out_target;
	ret = eld_locked(cpu, &pi, idx, va_slot_ptr(cpu, vidx, va_slot), blocked);
	va_unpin(cpu, vidx);
out_target:
	cpu_frame_unlock(cpu, idx);
	return ret;
}

int encls_eldu(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	return eld(cpu, pginfo, epc, va_slot, false);
}

int encls_eldb(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	return eld(cpu, pginfo, epc, va_slot, true);
}
