/*
 * cpu_internal.h: the emulated processor's private state, shared by the
 * files that implement its leaves (machine.c, build.c, einit.c, keys.c,
 * paging.c).  Nothing outside src/cpu includes this.
 *
 * Lock order.  Every EPC frame has a lock in its EPCM entry.  A leaf locks
 * the frames it needs in this order: the target page, then the SECS.  The
 * target lock is taken with cpu_frame_trylock(): a leaf that finds it
 * taken by another leaf answers what its concurrency table says
 * (SGX_EPC_PAGE_CONFLICT or #GP), as the hardware does when two leaves
 * race for a page; it waits only for the processor's own bookkeeping (see
 * frame_holder below), which never waits for a lock a leaf holds while it
 * takes its target.  The SECS lock is always taken last and waits out
 * other leaves updating the SECS (an explicit SECS operand found held as a
 * target answers a conflict instead), so no cycle can form.  Two
 * exceptions keep to the order: a paging leaf pins its VA page (paging.c,
 * va_pin()) under the VA frame's lock, taken and released at once, before
 * it locks its target (EWB) or with only its target locked (ELDU/ELDB,
 * which check the target first as the SDM does); and a thread leaving its
 * enclave (thread.c) blocks on its TCS's lock, then its SECS's, as its
 * bookkeeping must complete.
 */
#ifndef SGXEMU_CPU_INTERNAL_H
#define SGXEMU_CPU_INTERNAL_H

#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif
#include <openssl/sha.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>

#include "sgxemu/cpu.h"

/* The leaves' shorthand for the faults of cpu.h. */
#define GP ENCLS_GP
#define PF ENCLS_PF

/*
 * A frame lock is a spinlock whose word also says who holds it, because
 * that decides what a leaf meeting it does (the SDM's concurrency tables):
 *
 *   FRAME_TARGET    a leaf working on the page as its target (EADD's page,
 *                   EWB's source, EREMOVE's page; taken with a try-lock);
 *   FRAME_OPERAND   a leaf reading or updating the page for a moment as
 *                   its SECS or VA page (blocking);
 *   FRAME_INTERNAL  the processor's own bookkeeping, which the SDM does not
 *                   let a leaf see: EEXIT and AEX (they take no EPC
 *                   page operand, so no table conflicts with them), EPCM
 *                   snapshots, frame binding and poison injection.
 *
 * A leaf that wants the page as its target conflicts with a TARGET or an
 * OPERAND holder; one that names it as an explicit SECS or VA operand (the
 * tables' "Shared") conflicts with a TARGET holder and waits out an OPERAND
 * one; an implicit SECS (the tables' "Concurrent") waits out every holder.
 * All of them wait out FRAME_INTERNAL.  What a conflict answers is the
 * leaf's own table's: each leaf says so where it takes the lock.
 *
 * Leaves hold the lock for a few hundred nanoseconds at most (EINIT's
 * SIGSTRUCT check runs before it locks); an uncontended acquire and release
 * cost one compare-and-swap and one store, against two atomic operations
 * and two calls for a mutex.  The build leaves take two per call, so this
 * is on the measured path.
 *
 * The model differs from the SDM in two ways.  It is stricter: two leaves
 * that both take a page "Shared" (EBLOCK and EDBGRD of one page, say) may
 * run together on hardware, while here the second sees the first as a
 * TARGET holder and answers a conflict.  And it is more lenient: leaves
 * that update one SECS (EADD, EEXTEND, EINIT, ETRACK's epoch) wait for
 * each other, where the SDM tells software to serialize EADD, EEXTEND and
 * EINIT of one SECS ("Concurrent Operation Restrictions") and does not
 * promise what happens if it does not.
 */
enum frame_holder {
	FRAME_FREE,
	FRAME_TARGET,
	FRAME_OPERAND,
	FRAME_INTERNAL,
};
typedef _Atomic uint8_t frame_lock_t;

#define FRAME_CONFLICTS(h) (1u << (h))

/* Takes the lock as holder `as` once it is free, or answers false at once
 * if a holder in the mask `conflicts` has it; waits out the others. */
static inline bool frame_acquire(frame_lock_t *l, enum frame_holder as, unsigned int conflicts)
{
	unsigned int spins = 0;

	for (;;) {
		uint8_t v = atomic_load_explicit(l, memory_order_relaxed);

		if (v == FRAME_FREE) {
			if (atomic_compare_exchange_weak_explicit(l, &v, (uint8_t)as,
								  memory_order_acquire,
								  memory_order_relaxed))
				return true;
			continue;
		}
		if (conflicts & FRAME_CONFLICTS(v))
			return false;
		if (++spins < 256)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
}

/* The processor's own bookkeeping (FRAME_INTERNAL): waits for any holder. */
static inline void frame_raw_lock(frame_lock_t *l)
{
	(void)frame_acquire(l, FRAME_INTERNAL, 0);
}

static inline void frame_raw_unlock(frame_lock_t *l)
{
	atomic_store_explicit(l, FRAME_FREE, memory_order_release);
}

/* One EPCM entry: the processor's record of what an EPC frame holds. */
struct epcm_entry {
	frame_lock_t lock; /* guards every field below and the frame's bytes */
	/* SECS: an ETRACK is running on it (the SDM's ETRACK vs ETRACK
	 * restriction, which answers SGX_EPC_PAGE_CONFLICT).  Not guarded. */
	atomic_bool tracking;
	/* sgx_cpu_inject_conflict(): conflicts still to report.  Not guarded. */
	_Atomic uint32_t inject_page;
	_Atomic uint32_t inject_tracking;
	bool valid;
	bool blocked;
	bool pending;
	bool modified;
	bool pr;
	bool poisoned; /* memory failure: every leaf that touches it gets #MC */
	uint8_t type; /* enum sgx_page_type */
	uint8_t perms; /* SGX_SECINFO_R/W/X */
	uint64_t linaddr; /* enclave linear address (child pages) */
	uint64_t secs; /* frame index of the owning SECS (child pages) */
	uint64_t bepoch; /* SECS tracking epoch when EBLOCK ran */
	/* Where the frame's 4096 bytes live: the frame's own place in its
	 * section, or memory sgx_cpu_frame_bind() gave it.  Changed only
	 * while the entry is invalid, under the lock; read with relaxed
	 * atomics (cpu_frame_ptr()), which a leaf holding the frame valid
	 * may do without the lock. */
	uint8_t *bytes;
	bool tcs_busy; /* TCS: a thread is inside through it (thread.c) */
	/* TCS, while busy: the process of that thread and the SECS epoch it
	 * entered in, so that the thread's exit can be completed for it when
	 * its process dies inside (sgx_cpu_thread_reap()). */
	int32_t tcs_pid;
	uint64_t tcs_epoch;
	/* VA pages: leaves (EWB, ELDU/ELDB) using one of its slots right now.
	 * Incremented under the lock, decremented without it; a leaf that
	 * takes the frame as its target must see 0 (see cpu_frame_pinned()). */
	_Atomic uint32_t va_users;
};

/* True while a paging leaf uses a slot of this VA page (holds it "Shared"):
 * a leaf that would remove or replace the frame (EREMOVE, EPA, EWB, ELDU,
 * all "Exclusive" on it) must answer as for a conflict, #GP in each one's
 * table.  Context: the frame's lock held. */
static inline bool cpu_frame_pinned(const struct epcm_entry *e)
{
	return atomic_load(&((struct epcm_entry *)e)->va_users) != 0;
}

/*
 * Processor-private SECS state.  Hardware keeps it inside the SECS page,
 * where software cannot read it; here it lives in SECS.reserved4, so that
 * EWB and ELDU of a SECS carry it along with the page.
 *
 * Guarded by the SECS frame's lock.
 * Invariant: child_count == number of valid EPCM entries whose secs is this
 * frame (VA pages excluded) + ELDU/ELDB of its pages in progress (paging.c
 * counts a page before it decrypts it, so the SECS stays meanwhile).
 * Tracking: nr_threads == nr_active_cur + nr_active_prev; a thread that
 * entered in epoch e counts in cur while epoch == e, in prev after one
 * ETRACK; ETRACK refuses (SGX_PREV_TRK_INCMPL) while prev != 0.
 */
struct secs_private {
	uint64_t eid; /* unique per ECREATE on this machine, never 0 */
	uint32_t initialized; /* EINIT succeeded */
	uint32_t reserved0;
	uint64_t child_count;
	SHA256_CTX meas; /* MRENCLAVE in progress, until EINIT */
	/* The SIGSTRUCT's KSS identity, copied in by EINIT: SECS.ISVFAMILYID
	 * and SECS.ISVEXTPRODID, which EGETKEY's policies and EREPORT read. */
	uint8_t isvfamilyid[16];
	uint8_t isvextprodid[16];
	/* Tracking (ETRACK/EWB): threads that entered in the current epoch,
	 * and threads still inside that entered before the last ETRACK. */
	uint64_t epoch;
	uint64_t nr_active_cur;
	uint64_t nr_active_prev;
	uint64_t nr_threads; /* threads inside now */
};

#define SECS_PRIVATE_OFFSET 2048
_Static_assert(SECS_PRIVATE_OFFSET >= offsetof(struct sgx_secs, reserved4) &&
		       SECS_PRIVATE_OFFSET + sizeof(struct secs_private) <= 4096,
	       "secs_private must fit in SECS.reserved4");

struct cpu_section {
	uint8_t *base; /* EPC address of the first frame */
	uint64_t size;
	uint64_t first; /* index of the first frame */
	uint64_t nr; /* frames */
	int node;
};

/* Fused and per-boot keys.  Never leave the processor. */
struct cpu_keys {
	uint8_t seal_fuses[16]; /* root of seal, report, launch keys */
	uint8_t prov_fuses[16]; /* root of provisioning keys */
	uint8_t owner_epoch[16];
	uint8_t report_key_base[16]; /* per boot: report keys */
	uint8_t paging_key[16]; /* per boot: EWB/ELDU AES-GCM */
};

/* EWB's versions count in steps of 8, from 8: the SDM's EDBGRD reports a
 * VA slot as in use by its bits 63:3 alone, so no version may live in the
 * low three bits. */
#define VA_VERSION_STEP 8

/* struct sgx_cpu.magic of a machine laid out in an arena (sgx_cpu_attach()). */
#define CPU_ARENA_MAGIC 0x616e657261757063ULL /* "cpuarena" */

struct sgx_cpu {
	_Atomic uint64_t magic; /* CPU_ARENA_MAGIC in an arena, else 0 */
	/* In an arena, the first byte past the machine's state; the whole
	 * object (this struct, the EPCM, the sections) lies in the arena and
	 * nothing of it was allocated by this process. */
	uint8_t *arena_end;
	struct sgx_cpu_config cfg;
	/* Unique per machine: a counter in this process, or a random value
	 * for a machine in an arena, which several processes share. */
	uint64_t gen;
	unsigned int nr_sections;
	struct cpu_section sections[SGX_MAX_EPC_SECTIONS];
	uint64_t nr_frames;
	struct epcm_entry *epcm; /* nr_frames entries */
	struct cpu_keys keys;
	_Atomic uint64_t next_eid;
	_Atomic uint64_t next_version; /* EWB versions: never repeat in a boot */
	uint64_t feat_ctl; /* IA32_FEAT_CTL, locked at creation */
};

/* True if n bytes at p are zero: the reserved-field checks of every leaf. */
static inline bool cpu_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Frame index of an EPC address, or -1.  O(sections). */
static inline int64_t cpu_frame_index(const struct sgx_cpu *cpu, const void *addr)
{
	const uint8_t *p = addr;

	for (unsigned int i = 0; i < cpu->nr_sections; i++) {
		const struct cpu_section *s = &cpu->sections[i];

		if (p >= s->base && p < s->base + s->size)
			return (int64_t)(s->first + (uint64_t)(p - s->base) / SGX_PAGE_SIZE);
	}
	return -1;
}

/* The EPC address of frame index: its identity, which never changes. */
static inline uint8_t *cpu_frame_addr(const struct sgx_cpu *cpu, uint64_t index)
{
	for (unsigned int i = 0; i < cpu->nr_sections; i++) {
		const struct cpu_section *s = &cpu->sections[i];

		if (index >= s->first && index < s->first + s->nr)
			return s->base + (index - s->first) * SGX_PAGE_SIZE;
	}
	return NULL;
}

/* Where frame index's bytes are: every leaf reads and writes page contents
 * through this, never through the EPC address (see sgx_cpu_frame_bind()). */
static inline uint8_t *cpu_frame_ptr(const struct sgx_cpu *cpu, uint64_t index)
{
	return __atomic_load_n(&cpu->epcm[index].bytes, __ATOMIC_RELAXED);
}

/* Looks up an EPC page operand that must be page aligned.  Returns 0 and
 * the index, or ENCLS_FAULT(#GP) if unaligned, ENCLS_FAULT(#PF) if not in
 * the EPC (the SDM's checks for an EPC operand). */
static inline int cpu_epc_operand(const struct sgx_cpu *cpu, const void *addr, uint64_t *index)
{
	int64_t i;

	if ((uintptr_t)addr & (SGX_PAGE_SIZE - 1))
		return GP;
	i = cpu_frame_index(cpu, addr);
	if (i < 0)
		return PF;
	*index = (uint64_t)i;
	return 0;
}

/* Try-locks a leaf's target frame (FRAME_TARGET): 0, or
 * SGX_EPC_PAGE_CONFLICT if another leaf holds it (or a conflict was
 * injected), which the caller turns into what its concurrency table says.
 * A poisoned frame answers ENCLS_MC (and is left unlocked). */
int cpu_frame_trylock(struct sgx_cpu *cpu, uint64_t index);
/* Locks a frame a leaf names as an explicit SECS or VA operand (the SDM's
 * "Shared", FRAME_OPERAND): waits out other operand holders; 0, or
 * SGX_EPC_PAGE_CONFLICT if a leaf holds it as its target (or a conflict
 * was injected), or ENCLS_MC if poisoned. */
int cpu_operand_lock(struct sgx_cpu *cpu, uint64_t index);
/* Locks an implicit SECS (the SDM's "Concurrent"), blocking: 0, or
 * ENCLS_MC if poisoned. */
int cpu_frame_lock(struct sgx_cpu *cpu, uint64_t index);
void cpu_frame_unlock(struct sgx_cpu *cpu, uint64_t index);
/* ETRACK's claim on its SECS's tracking facility: false if another ETRACK
 * runs on it (or a conflict was injected), which ETRACK answers with
 * SGX_EPC_PAGE_CONFLICT (the SDM's "vs. ETRACK, ETRACKC: Exclusive").
 * cpu_tracking_end() gives it back. */
bool cpu_tracking_begin(struct sgx_cpu *cpu, uint64_t index);
void cpu_tracking_end(struct sgx_cpu *cpu, uint64_t index);

/* Turns SGX_EPC_PAGE_CONFLICT from the lock helpers into the leaf's answer
 * to a conflict on that operand (#GP or SGX_EPC_PAGE_CONFLICT). */
static inline int cpu_conflict_as(int ret, int conflict)
{
	return ret == SGX_EPC_PAGE_CONFLICT ? conflict : ret;
}

/* The prologue of a leaf whose page operand is its target: the operand
 * checks of cpu_epc_operand(), then cpu_frame_trylock(), a conflict
 * answering `conflict` (the leaf's table's).  0 with the frame locked, or
 * the fault or code, with nothing locked. */
static inline int cpu_lock_operand(struct sgx_cpu *cpu, const void *epc, uint64_t *index,
				   int conflict)
{
	int ret = cpu_epc_operand(cpu, epc, index);

	return ret ? ret : cpu_conflict_as(cpu_frame_trylock(cpu, *index), conflict);
}

static inline struct secs_private *secs_private(uint8_t *secs_page)
{
	return (struct secs_private *)(secs_page + SECS_PRIVATE_OFFSET);
}

/* Validates a SECS operand of a child leaf: a valid EPCM entry of type
 * SECS.  Locks it on success.  Returns 0, ENCLS_FAULT(#GP/#PF/#MC). */
int cpu_lock_secs(struct sgx_cpu *cpu, uint64_t pginfo_secs, uint64_t *index);

/* Reads the calling logical processor's IA32_SGXLEPUBKEYHASH as 32 bytes. */
void cpu_lp_lepubkeyhash(const struct sgx_cpu *cpu, uint8_t hash[32]);

/* The XSAVE area size XFRM needs (legacy 512 + header 64 + components),
 * from the CPUID 0xD values of the model. */
uint32_t cpu_xsave_size(uint64_t xfrm);

/* Key derivation, AES-128-CMAC of the fused key over a derivation block
 * (keys.c).  Also used by EINIT for the launch key. */
struct key_dependencies;

/*
 * The derivation block: the SDM's TMP_KEYDEPENDENCIES in sgxemu's own
 * layout.  Every key EGETKEY returns, the launch key EINIT checks tokens
 * with and the report key EREPORT MACs with is
 *
 *	AES-128-CMAC(root, struct key_dependencies)
 *
 * where root is the provisioning fuses for PROVISION and PROVISION_SEAL
 * keys and the seal fuses for every other key.  A field the key does not
 * depend on (the SDM's key-derivation table) is zero.  Integers are
 * little-endian, as the processor stores them.
 *
 *	off size field
 *	  0   2  keyname          enum sgx_key_name
 *	  2   2  keypolicy        the request's (SEAL, PROVISION_SEAL), else 0
 *	  4   2  isvprodid
 *	  6   2  isvsvn
 *	  8   2  config_svn
 *	 10   6  reserved, 0
 *	 16  16  owner_epoch      CR_SGXOWNEREPOCH; 0 for the provisioning keys
 *	 32  16  cpusvn
 *	 48  16  attributes       FLAGS, XFRM (already masked)
 *	 64  16  attributes_mask
 *	 80   4  miscselect       (already masked)
 *	 84   4  miscmask
 *	 88   8  reserved, 0
 *	 96  32  mrenclave
 *	128  32  mrsigner
 *	160  32  keyid
 *	192  16  isvextprodid
 *	208  16  isvfamilyid
 *	224  64  config_id
 *	288  16  seal_fuses       CR_SEAL_FUSES; 0 for the PROVISION key
 *	304      size
 *
 * The SDM's block also holds PADDING, the top 352 bytes of s^3 mod n of the
 * enclave's SIGSTRUCT.  For a signature that verified they are the fixed
 * PKCS#1 v1.5 padding, the same for every enclave, so they are left out.
 */
struct key_dependencies {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t config_svn;
	uint8_t reserved0[6];
	uint8_t owner_epoch[16];
	uint8_t cpusvn[16];
	struct sgx_attributes attributes;
	struct sgx_attributes attributes_mask;
	uint32_t miscselect;
	uint32_t miscmask;
	uint8_t reserved1[8];
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint8_t keyid[32];
	uint8_t isvextprodid[16];
	uint8_t isvfamilyid[16];
	uint8_t config_id[64];
	uint8_t seal_fuses[16];
} __attribute__((packed));
_Static_assert(sizeof(struct key_dependencies) == 304, "derivation block is 304 bytes");
_Static_assert(offsetof(struct key_dependencies, owner_epoch) == 16, "owner_epoch at 16");
_Static_assert(offsetof(struct key_dependencies, attributes) == 48, "attributes at 48");
_Static_assert(offsetof(struct key_dependencies, mrenclave) == 96, "mrenclave at 96");
_Static_assert(offsetof(struct key_dependencies, keyid) == 160, "keyid at 160");
_Static_assert(offsetof(struct key_dependencies, config_id) == 224, "config_id at 224");
_Static_assert(offsetof(struct key_dependencies, seal_fuses) == 288, "seal_fuses at 288");

/* AES-128-CMAC of the root the key name selects over the block.  0, or
 * -ENOMEM (kept for callers; the CMAC allocates nothing and cannot fail).
 * Thread safe and async-signal-safe; costs one CMAC of 304 bytes. */
int cpu_derive_key(const struct sgx_cpu *cpu, const struct key_dependencies *kd,
		   uint8_t key[16]);

/* AES-128-CMAC of len bytes under key (EINIT's token MAC, EREPORT's
 * REPORT MAC).  Always 0; async-signal-safe (keys.c). */
int cpu_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16]);

/* True if cpusvn names a configuration beyond the machine's: CPUSVN is a
 * vector of 16 component SVNs, and one component above the machine's is
 * enough. */
bool cpu_cpusvn_beyond(const struct sgx_cpu *cpu, const uint8_t cpusvn[16]);

/* The launch (EINITTOKEN) key's block, from the fields EINIT reads out of a
 * token (and EGETKEY out of the launch enclave's SECS and request): the
 * launch enclave's signer, product, SVN, the CPUSVN it asked for, its
 * masked ATTRIBUTES and MISCSELECT, and the KEYID. */
void cpu_keydep_launch(const struct sgx_cpu *cpu, struct key_dependencies *kd,
		       const uint8_t mrsigner[32], uint16_t isvprodid, uint16_t isvsvn,
		       const uint8_t cpusvn[16], const struct sgx_attributes *attributes,
		       uint32_t miscselect, const uint8_t keyid[32]);

/* The report key's block for the enclave with this identity (EGETKEY's
 * REPORT key for the calling enclave; EREPORT's for the TARGETINFO's). */
void cpu_keydep_report(const struct sgx_cpu *cpu, struct key_dependencies *kd,
		       const uint8_t mrenclave[32], const struct sgx_attributes *attributes,
		       uint32_t miscselect, const uint8_t config_id[64], uint16_t config_svn,
		       const uint8_t keyid[32]);

#endif /* SGXEMU_CPU_INTERNAL_H */
