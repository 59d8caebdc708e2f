/*
 * cpu.h: the emulated SGX processor, as the software above it sees it.
 *
 * This is the hardware contract.  A machine is configured once when it is
 * created (EPC sections, CPUID leaf 0x12, launch control, fused keys) and
 * then offers the ENCLS leaves as functions that take and return what the
 * hardware does: PAGEINFO, SECINFO, SIGSTRUCT and EPC addresses in, an
 * SGX error code or a fault out.
 *
 * EPC addresses.  Each EPC section is a range of the emulator's address
 * space; CPUID leaf 0x12 reports its base and size as the hardware reports
 * physical addresses.  An "EPC address" below is an address inside a
 * section; the leaves find the frame and its EPCM entry from it.  Any other
 * address given where the architecture wants an EPC page is a fault, as on
 * hardware.
 *
 * Return values of every leaf (see encls_*() helpers below):
 *   0                      success
 *   1..SGX_INVALID_KEYNAME an SGX error code (enum sgx_return_code)
 *   ENCLS_FAULT(trapnr)    the leaf faulted (#GP, #PF, #UD) and did nothing
 *
 * Concurrency.  Leaves may run at once from any number of threads.  Two
 * leaves that need the same EPC page at once behave as the hardware does:
 * the loser answers what its page's "Concurrency Restrictions" table in
 * the SDM says for that operand: #GP for EADD, ECREATE, EEXTEND, EINIT,
 * EREMOVE, EDBGRD/EDBGWR, EPA, EWB, ELDB/ELDU and EENTER, whichever
 * operand met the other leaf; SGX_EPC_PAGE_CONFLICT for EBLOCK, and for an
 * ETRACK that meets another ETRACK.  A #GP from a conflict is the same #GP
 * as for a malformed operand; only the caller can tell them apart.  Leaves
 * that only read or update a SECS (and EEXIT/AEX, EGETKEY) serialize on it
 * internally and never conflict over it.
 *
 * Logical processors.  Every host thread is a logical processor of the
 * machine.  Per-LP state (the IA32_SGXLEPUBKEYHASH MSRs, the enclave the
 * thread is in) is per thread, as the kernel's wrmsr-then-EINIT sequence
 * expects.
 */
#ifndef SGXEMU_CPU_H
#define SGXEMU_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "sgxemu/arch.h"

struct sgx_cpu;

#define ENCLS_FAULT_FLAG 0x40000000
#define ENCLS_FAULT(trapnr) (ENCLS_FAULT_FLAG | (trapnr))

/* The faults the leaves answer with, as every caller and test spells them. */
#define X86_TRAP_MC 18
#define ENCLS_GP ENCLS_FAULT(X86_TRAP_GP)
#define ENCLS_PF ENCLS_FAULT(X86_TRAP_PF)
#define ENCLS_MC ENCLS_FAULT(X86_TRAP_MC)

/* The leaf faulted: nothing was done; encls_trapnr() says which vector. */
static inline bool encls_faulted(int ret)
{
	return (ret & ENCLS_FAULT_FLAG) != 0;
}

/* The leaf failed, by a fault or an SGX error code. */
static inline bool encls_failed(int ret)
{
	return ret != 0;
}

static inline int encls_trapnr(int ret)
{
	return ret & ~ENCLS_FAULT_FLAG;
}

/* Name of an SGX error code ("SGX_INVALID_SIG_STRUCT"), or of a fault
 * ("#GP"); "SGX_SUCCESS" for 0.  Never NULL. */
const char *sgx_error_name(int ret);

enum sgx_lc_mode {
	/* IA32_SGXLEPUBKEYHASH is writable: the OS writes the signer's hash. */
	SGX_LC_WRITABLE,
	/* Locked by firmware to lepubkeyhash: other signers need an EINITTOKEN
	 * MACed with the launch key. */
	SGX_LC_LOCKED,
};

struct sgx_cpu_section_config {
	uint64_t size; /* bytes, a multiple of 4096, > 0 */
	int node; /* NUMA node the firmware reports for the section */
};

/*
 * The model's CPUID leaf 0x12 comes from the knobs below.  Loaders switch
 * on these bits (a runtime turns on dynamic memory management when SGX2 is
 * there), so a knob may claim only what the model implements, and
 * sgx_cpu_create() refuses with -EINVAL a config that claims more:
 *
 *   sgx2                 SGX2's leaves EAUG, EMODPR, EMODT, EACCEPT,
 *                        EACCEPTCOPY and EMODPE: not modelled, so false.
 *   max_enclave_size_32  32-bit enclaves, which ECREATE refuses: 0.
 *   max_enclave_size_64  13..63; ECREATE takes SIZE below 2^this.
 *   miscselect_valid     at most SGX_MISC_EXINFO.
 *   attributes_valid     no reserved bit and not AEXNOTIFY (AEX-Notify
 *                        is not modelled); KSS may be on or off.
 *   xfrm_valid           x87 and SSE at least.
 *
 * The knobs stay so that a model that gains those leaves can turn them on
 * by lifting the refusal.
 */
struct sgx_cpu_config {
	unsigned int nr_sections; /* 1..SGX_MAX_EPC_SECTIONS */
	struct sgx_cpu_section_config sections[SGX_MAX_EPC_SECTIONS];
	bool sgx2; /* CPUID.(0x12,0).EAX bit 1 */
	uint32_t miscselect_valid; /* CPUID.(0x12,0).EBX */
	uint8_t max_enclave_size_32; /* CPUID.(0x12,0).EDX[7:0], log2 bytes */
	uint8_t max_enclave_size_64; /* CPUID.(0x12,0).EDX[15:8], log2 bytes */
	uint64_t attributes_valid; /* CPUID.(0x12,1).EBX:EAX */
	uint64_t xfrm_valid; /* CPUID.(0x12,1).EDX:ECX */
	enum sgx_lc_mode lc_mode;
	/* Reset value of IA32_SGXLEPUBKEYHASH0..3 as 32 bytes (little-endian
	 * MSR 0 first); in SGX_LC_LOCKED the only value it ever has. */
	uint8_t lepubkeyhash[32];
	/* Fused keys: derived from seed when seeded, otherwise drawn from the
	 * system's random source at creation. */
	bool seeded;
	uint8_t seed[32];
	uint8_t cpusvn[16];
};

/* Fills cfg with what the model implements, on the lines of a recent
 * server part: one section of epc_bytes on node 0, SGX1 (no SGX2), 64-bit
 * enclaves of up to 2^35 bytes and no 32-bit ones, EXINFO, KSS, writable
 * launch control with the Intel default hash, x87|SSE|AVX|AVX-512 XFRM,
 * random fused keys. */
void sgx_cpu_config_default(struct sgx_cpu_config *cfg, uint64_t epc_bytes);

/* Creates a machine.  Returns 0, -EINVAL for a config the model cannot be
 * (no sections, unaligned or zero sizes, more than 8 sections, a CPUID
 * knob claiming what is not modelled: see struct sgx_cpu_config), or
 * -ENOMEM.
 * Every EPC frame starts invalid in the EPCM.  Section memory is backed by
 * the host on first use (see sgx_cpu_prefault()). */
int sgx_cpu_create(const struct sgx_cpu_config *cfg, struct sgx_cpu **out);
void sgx_cpu_destroy(struct sgx_cpu *cpu);
/*
 * A machine in shared memory (the arena).  sgx_cpu_create_in() lays the
 * whole processor state out inside [arena, arena + size): struct sgx_cpu,
 * the EPCM (with the frame locks, plain atomics) and the EPC sections, so
 * that the SECS and VA frames, the keys and every EPCM entry live there.
 * The caller maps that range first, page aligned, readable and writable;
 * when it is a MAP_SHARED mapping of a memfd, another process that maps
 * the same memfd at the same address calls sgx_cpu_attach() and runs any
 * leaf on the same machine, unchanged (the frames' bytes an enclave's
 * contents object holds must then be mapped at the same address there
 * too: core.h, contents placement).  Per-thread state stays private to
 * each process: the logical processors' MSRs and the paging ciphers.
 *
 * sgx_cpu_arena_size() is the size the arena needs for cfg (0 for a config
 * sgx_cpu_create() refuses).  sgx_cpu_create_in() returns 0, -EINVAL for a
 * bad config or an arena not page aligned, -ENOSPC for one too small, -EIO
 * when no random keys can be drawn.  sgx_cpu_attach() returns 0, or
 * -EINVAL when no machine made by sgx_cpu_create_in() is at arena.
 * sgx_cpu_destroy() of the creator's machine wipes its keys and marks the
 * arena empty but unmaps nothing; an attached process never destroys it.
 */
uint64_t sgx_cpu_arena_size(const struct sgx_cpu_config *cfg);
int sgx_cpu_create_in(const struct sgx_cpu_config *cfg, void *arena, uint64_t size,
		      struct sgx_cpu **out);
int sgx_cpu_attach(void *arena, struct sgx_cpu **out);

/* Backs every section's memory now, in huge pages where the host allows,
 * so leaves on unbound frames never pay for first-touch faults.  Costs the
 * EPC's size in host memory.  0 or -errno (-ENOMEM). */
int sgx_cpu_prefault(struct sgx_cpu *cpu);
const struct sgx_cpu_config *sgx_cpu_config(const struct sgx_cpu *cpu);

/* CPUID leaf 0x12: regs = {eax, ebx, ecx, edx}.  Subleaf 2+i describes EPC
 * section i: base in EBX[19:0]:EAX[31:12], size in EDX[19:0]:ECX[31:12],
 * type 1 in EAX[3:0]; past the last section the type is 0. */
void sgx_cpu_cpuid(const struct sgx_cpu *cpu, uint32_t subleaf, uint32_t regs[4]);

/* The firmware's NUMA node for EPC section i (the ACPI table the kernel
 * consults), or -1. */
int sgx_cpu_section_node(const struct sgx_cpu *cpu, unsigned int section);

/* RDMSR/WRMSR of IA32_FEAT_CTL and IA32_SGXLEPUBKEYHASH0..3 on the calling
 * thread's logical processor.  0, or ENCLS_FAULT(#GP) for an unknown MSR or
 * a write the model forbids (a locked hash). */
int sgx_cpu_rdmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t *val);
int sgx_cpu_wrmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t val);

/* --- ENCLS leaves ---------------------------------------------------------
 * Names follow the SDM; each takes the registers the leaf takes.
 */

/* ECREATE: pginfo->contents is a SECS in ordinary memory, pginfo->metadata
 * a SECINFO (type SECS), pginfo->addr and ->secs 0; secs the EPC page. */
int encls_ecreate(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *secs);
/* EADD: pginfo->addr the linear address, ->contents the source page,
 * ->metadata the SECINFO (TCS or REG), ->secs the SECS EPC page. */
int encls_eadd(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc);
/* EEXTEND: measures the 256-byte chunk at EPC address chunk. */
int encls_eextend(struct sgx_cpu *cpu, void *secs, void *chunk);
/* EINIT: token may be all zero (VALID=0) when launch control allows. */
int encls_einit(struct sgx_cpu *cpu, const struct sgx_sigstruct *sigstruct,
		const struct sgx_einittoken *token, void *secs);
int encls_eremove(struct sgx_cpu *cpu, void *epc);
/* EDBGRD/EDBGWR: 8 bytes at an 8-aligned EPC address of a debug enclave's
 * REG or TCS page (a TCS: EDBGRD below SGX_TCS_LIMIT, EDBGWR its FLAGS
 * only), or, for EDBGRD, of a VA page (all ones for a slot that holds a
 * version, else 0).  0; SGX_PAGE_NOT_DEBUGGABLE for a PENDING or MODIFIED
 * page; #PF outside the EPC, for a free frame, a SECS or another type;
 * #GP unaligned, for a non-debug enclave's page or the TCS offsets above. */
int encls_edbgrd(struct sgx_cpu *cpu, const void *addr, uint64_t *data);
int encls_edbgwr(struct sgx_cpu *cpu, void *addr, uint64_t data);

/* Paging. */
int encls_epa(struct sgx_cpu *cpu, void *epc);
int encls_eblock(struct sgx_cpu *cpu, void *epc);
int encls_etrack(struct sgx_cpu *cpu, void *secs);
/* EWB: writes the page to pginfo->contents (4096 bytes) and its PCMD to
 * pginfo->metadata, a version into the VA slot va_slot (an EPC address
 * inside a VA page, 8-aligned); pginfo->addr and ->secs must be 0.  As the
 * SDM has it, a slot already in use is overwritten: the page is written
 * back all the same and the answer is SGX_VA_SLOT_OCCUPIED (the page whose
 * version the slot held can no longer be loaded). */
int encls_ewb(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
/* ELDU/ELDB: pginfo->addr the linear address, ->contents the encrypted
 * page, ->metadata the PCMD, ->secs the SECS EPC page (0 for a SECS or VA
 * page); the slot is freed on success. */
int encls_eldu(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int encls_eldb(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
/* Makes the calling thread's paging cipher contexts for this machine now,
 * so that its later EWB/ELDU/ELDB allocate nothing (needed before they run
 * in a signal handler).  0 or -ENOMEM.  Optional: they are otherwise made
 * on first use, and freed when the thread exits. */
int sgx_cpu_paging_prepare(struct sgx_cpu *cpu);

/* The checks EINIT makes of a SIGSTRUCT on its own, in the SDM's order:
 * the header words, VENDOR 0 or 0x8086, exponent 3 and zero reserved
 * fields, bytes 44..127, 992..1007 and 1028..1039 (else
 * SGX_INVALID_SIG_STRUCT; ISVFAMILYID and ISVEXTPRODID are not reserved); then signature < modulus, Q1 and
 * Q2, and the PKCS#1 v1.5 RSA-3072 signature over SHA-256 of the signed
 * regions (else SGX_INVALID_SIGNATURE).  Returns 0 or that code.  mrsigner,
 * if not NULL, receives SHA-256 of the modulus either way.  Safe to call
 * from any thread; no machine needed. */
int sgx_sigstruct_check(const struct sgx_sigstruct *sigstruct, uint8_t mrsigner[32]);
/* The step of that check other readers of a SIGSTRUCT share: the 384-byte
 * big-endian block s^3 mod n must equal (00 01 FF.. 00, the SHA-256
 * DigestInfo, SHA-256 of bytes 0..127 and 900..1027).  False only when
 * OpenSSL cannot allocate. */
bool sgx_sigstruct_encoding(const struct sgx_sigstruct *sigstruct, uint8_t em[SGX_MODULUS_SIZE]);

/* --- Enclave context ------------------------------------------------------
 * A thread inside an enclave.  EENTER/ERESUME/EEXIT and AEX are built on
 * these; tests use them to put a thread inside.
 */
struct sgx_cpu_thread {
	void *tcs; /* EPC address of the TCS in use, NULL when outside */
	void *secs; /* its enclave's SECS */
	uint64_t entry_epoch; /* the SECS tracking epoch when it entered */
	/* Set by enclu_eenter() and enclu_eresume() (the processor's
	 * registers for the enclave it is in); zero after
	 * sgx_cpu_thread_enter() alone. */
	uint64_t base, size; /* SECS.BASEADDR and SECS.SIZE: ELRANGE */
	uint64_t tcs_linaddr;
	uint64_t aep; /* RCX of the entry: where AEX and EEXIT go */
	void *ssa; /* EPC address of the last page of the current SSA frame */
	uint64_t ssa_linaddr; /* its linear address */
	uint32_t ssa_frame_pages;
	uint32_t miscselect;
	uint64_t attributes, xfrm;
};

/* Marks the TCS busy and counts the thread inside its enclave (t starts
 * zeroed).  0, or as EENTER: ENCLS_FAULT(#PF) if tcs is not a valid,
 * unblocked TCS (wrong type, blocked, pending, modified) or not in the EPC;
 * ENCLS_FAULT(#GP) if it is unaligned, busy, being used by another leaf,
 * its enclave is not initialized, t is already inside, or the TCS's fields
 * are not ones EENTER takes (reserved FLAGS bits, CSSA >= NSSA, OSSA,
 * OFSBASE or OGSBASE not page aligned). */
int sgx_cpu_thread_enter(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs);
/* Leaves the enclave: frees the TCS, completes tracking for this thread. */
void sgx_cpu_thread_exit(struct sgx_cpu *cpu, struct sgx_cpu_thread *t);
/* Completes the exit of every thread of process pid still inside an
 * enclave (each TCS records the process that entered through it): for a
 * machine whose client died with threads inside, as the processor's
 * exit from enclave mode on that CPU.  The number of TCS freed.  Costs a
 * walk over the EPCM.  The process must be gone (its threads would still
 * believe they are inside). */
int sgx_cpu_thread_reap(struct sgx_cpu *cpu, int pid);

/* --- ENCLU: EENTER, ERESUME, EEXIT, AEX, EREPORT ----------------------------
 * The processor's side of entering and leaving an enclave.  Linear
 * addresses are translated by the caller (the runtime: its mapping of the
 * enclave and the core's page walk) and handed in as EPC addresses, which
 * the leaves check against the EPCM as the hardware checks a TLB fill: an
 * EPC page whose entry is not the expected one (wrong linear address,
 * enclave, type or permissions, or blocked) answers #PF, and the caller
 * may translate again and retry.  Every leaf here allocates nothing and
 * takes only frame locks, so all are async-signal-safe.
 */

/* The SSA frame EENTER (resume false) or ERESUME (true) will use for the
 * TCS at tcs (EPC address, linear address tcs_linaddr): the linear address
 * of its last page, which holds GPRSGX.  0; #PF for a TCS that is not
 * there; #GP for ERESUME with CSSA 0 or a TCS EENTER refuses. */
int enclu_ssa_linaddr(struct sgx_cpu *cpu, void *tcs, uint64_t tcs_linaddr, bool resume,
		      uint64_t *ssa_linaddr);

/* What EENTER and ERESUME load. */
struct sgx_enclu_entry {
	uint64_t rip; /* EENTER: BASEADDR + OENTRY; ERESUME: GPRSGX.RIP */
	uint64_t cssa; /* EENTER: RAX for the enclave */
	uint64_t fsbase, gsbase; /* BASEADDR + OFSBASE, + OGSBASE */
	/* ERESUME: the state the AEX saved, and whether the frame's XSAVE
	 * region (its first 512 bytes, FXSAVE format) is in fxsave. */
	struct sgx_gprsgx gprs;
	bool fxsave_valid;
	uint8_t fxsave[512] __attribute__((aligned(16)));
};

/*
 * EENTER: claims the TCS (sgx_cpu_thread_enter()'s checks and errors),
 * checks that tcs is the TCS at tcs_linaddr and that ssa is a valid REG
 * page of the enclave, readable and writable, at the linear address
 * enclu_ssa_linaddr() gives (else #PF), saves ursp and urbp in the frame's
 * GPRSGX and aep in TCS.AEP, and fills out.  ERESUME does the same for
 * frame CSSA - 1, reads the state saved there into out and decrements
 * CSSA.  On failure the thread stays outside.
 */
int enclu_eenter(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs, uint64_t tcs_linaddr,
		 void *ssa, uint64_t aep, uint64_t ursp, uint64_t urbp, struct sgx_enclu_entry *out);
int enclu_eresume(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, void *tcs, uint64_t tcs_linaddr,
		  void *ssa, uint64_t aep, struct sgx_enclu_entry *out);

/* EEXIT: leaves the enclave; returns the AEP (the new RCX). */
uint64_t enclu_eexit(struct sgx_cpu *cpu, struct sgx_cpu_thread *t);

/* What an AEX saves and reports. */
struct sgx_enclu_event {
	int vector; /* exception vector; -1 for an interrupt */
	bool software; /* INT3/INTO: EXITINFO type 6, else 3 */
	uint32_t error_code; /* #PF, #GP */
	uint64_t maddr; /* #PF: the linear address */
	const void *fxsave; /* 512 bytes of FXSAVE state, or NULL */
};

/*
 * AEX: saves state (RIP, RFLAGS, the GPRs, FSBASE, GSBASE; URSP and URBP
 * are kept) in the current SSA frame with EXITINFO (valid for the
 * exceptions the SDM reports inside the enclave: #DE, #DB, #BP, #BR, #UD,
 * #MF, #AC, #XM always, #PF and #GP when MISCSELECT.EXINFO, which also
 * fills the frame's EXINFO), the XSAVE region's legacy part if given,
 * advances CSSA and leaves the enclave.  synthetic receives what the
 * processor loads: RAX = ERESUME, RBX = the TCS, RCX = the AEP, RSP and
 * RBP = URSP and URBP, every other GPR 0.
 */
void enclu_aex(struct sgx_cpu *cpu, struct sgx_cpu_thread *t, const struct sgx_gprsgx *state,
	       const struct sgx_enclu_event *ev, struct sgx_gprsgx *synthetic);

/*
 * EREPORT for the enclave the thread is in: a REPORT of its identity with
 * reportdata, MACed with the report key of the enclave targetinfo names
 * (the key that enclave's EGETKEY(REPORT) with the REPORT's KEYID returns).
 * The three operands are enclave linear addresses, also valid pointers in
 * this process.  0; #GP if one is misaligned (TARGETINFO and REPORT 512,
 * REPORTDATA 128) or outside ELRANGE, or the thread is not inside.
 */
int enclu_ereport(struct sgx_cpu *cpu, const struct sgx_cpu_thread *t,
		  const struct sgx_targetinfo *targetinfo, const uint8_t reportdata[64],
		  struct sgx_report *report);

/* EGETKEY on behalf of the enclave whose SECS is given (the enclave the
 * calling thread is in).  0 or an SGX error code (SGX_INVALID_ATTRIBUTE,
 * SGX_INVALID_CPUSVN, SGX_INVALID_ISVSVN, SGX_INVALID_KEYNAME), or a
 * fault: #GP for reserved bits, a KEYREQUEST not 512-aligned, a key buffer
 * not 16-aligned, or a SECS that is not an initialized enclave's; #PF for a
 * SECS outside the EPC; #MC for a poisoned one.  Nothing is written on
 * failure.  Async-signal-safe: the key derivation allocates nothing. */
int enclu_egetkey(struct sgx_cpu *cpu, void *secs, const struct sgx_keyrequest *req,
		  uint8_t key[16]);

/* --- Model introspection for the software layers and tests --------------- */

/* Number of EPC frames in the machine, and the EPC address of frame i. */
uint64_t sgx_cpu_nr_frames(const struct sgx_cpu *cpu);
void *sgx_cpu_frame_addr(const struct sgx_cpu *cpu, uint64_t index);
/* Frame index of an EPC address, or -1 if it is not inside a section. */
int64_t sgx_cpu_frame_index(const struct sgx_cpu *cpu, const void *addr);

/*
 * The memory controller's mapping of a frame's contents.  A frame is named
 * by its EPC address, which never changes, and that is what every leaf
 * takes; the 4096 bytes it holds live by default at that address, but the
 * platform may place them in any page of the host's memory instead, as a
 * memory controller decides where a physical page's DRAM is.  The SGX core
 * uses this to keep an enclave page's bytes at its offset in the
 * enclave's memory object (DESIGN.md, Memory).
 *
 * sgx_cpu_frame_bind() places the contents of the frame at epc at bytes (a
 * page-aligned address outside the EPC, readable and writable for as long
 * as it stays bound), or back at the frame's own address when bytes is
 * NULL.  Only a free frame can be rebound: the bytes are not copied, and
 * the next leaf that fills the frame (ECREATE, EADD, EAUG, EPA, ELDU/ELDB)
 * writes them at the new place.  Returns 0; -EINVAL for an EPC address not
 * page aligned or outside the EPC, or bytes not page aligned or inside the
 * EPC (another frame's place); -EBUSY while the EPCM entry is valid (or a
 * leaf still uses the slots of a VA page just removed).  Safe from any
 * thread; a leaf racing for the frame makes it -EBUSY or waits a moment.
 *
 * sgx_cpu_frame_bytes() says where the frame's bytes are now (NULL for an
 * address outside the EPC).  Software reads a page's contents through it
 * only where the architecture lets it (tests, debug).
 */
int sgx_cpu_frame_bind(struct sgx_cpu *cpu, const void *epc, void *bytes);
void *sgx_cpu_frame_bytes(const struct sgx_cpu *cpu, const void *epc);

/* A snapshot of one EPCM entry, for tests.  A leaf racing with the
 * introspection calls on a frame waits for them (it sees no conflict), but
 * what they report of a frame a leaf is changing is stale at once: call
 * them on a quiescent machine. */
struct sgx_epcm_info {
	bool valid;
	bool blocked;
	bool pending;
	bool modified;
	uint8_t type; /* enum sgx_page_type */
	uint8_t perms; /* SGX_SECINFO_R/W/X */
	uint64_t linaddr;
	uint64_t enclave_id; /* of the owning SECS; 0 for VA and invalid */
};
int sgx_cpu_epcm_info(const struct sgx_cpu *cpu, const void *epc, struct sgx_epcm_info *info);
/* Number of valid EPCM entries: a leak check for tests. */
uint64_t sgx_cpu_nr_valid(const struct sgx_cpu *cpu);

/* Checks the EPCM's invariants (every child names a valid SECS; a SECS's
 * child count and thread count match its pages).  0, -EUCLEAN if broken,
 * -ENOMEM.  Quiescent machines only; debug builds (SGXEMU_DEBUG) run it
 * when a machine is destroyed. */
int sgx_cpu_check(const struct sgx_cpu *cpu);

/*
 * Conflict injection, for tests of the software's handling of conflicts
 * (as sgx_cpu_poison() is of memory failure).  SGX_CONFLICT_PAGE: the next
 * n leaves that meet the frame at epc as their target or as an explicit
 * SECS or VA operand find it held by another leaf working on it (an EWB of
 * it, say) and answer what their concurrency table says, having done
 * nothing; implicit SECS operands (the tables' "Concurrent") do not see it.
 * SGX_CONFLICT_TRACKING: the next n ETRACKs of the SECS at epc find
 * another ETRACK running.  n replaces what was left; n = 0 clears it.
 * Returns how many of the previous injection were left (so a test learns
 * how many leaves met it), or -EINVAL for an address not a page of the EPC.
 */
enum sgx_conflict_kind {
	SGX_CONFLICT_PAGE,
	SGX_CONFLICT_TRACKING,
};
int sgx_cpu_inject_conflict(struct sgx_cpu *cpu, const void *epc, enum sgx_conflict_kind kind,
			    unsigned int n);

/* Memory-failure injection: marks the frame poisoned; the next leaf that
 * touches it machine-checks (returns ENCLS_MC). */
int sgx_cpu_poison(struct sgx_cpu *cpu, const void *epc);

#endif /* SGXEMU_CPU_H */
