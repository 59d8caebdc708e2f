/*
 * enclu_internal.h: what the runtime's ENCLU files share (enclu.c,
 * exception.c, enter.S): the per-thread state and the enclave registry.
 *
 * A thread's state (struct sgxrt_thread) is found without TLS, because a
 * signal may arrive while FS holds an enclave's base: by the kernel's
 * thread id in a fixed table (sgxrt__thread_of_tid()).  Its first fields
 * are what enter.S loads to start or resume an enclave thread (the frame
 * an iretq completes), at the offsets below.
 */
#ifndef SGXEMU_RUNTIME_ENCLU_INTERNAL_H
#define SGXEMU_RUNTIME_ENCLU_INTERNAL_H

#define T_FRAME 0
#define T_FSBASE 160
#define T_GSBASE 168
#define T_HOST_FS 176
#define T_HOST_GS 184
#define T_FX_VALID 192
#define T_FXSAVE 208

#ifndef __ASSEMBLER__
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/rt_enclu.h"

/* The registers enter.S saves at its ENCLU (sgxrt__enclu_site). */
struct sgxrt_gprs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags;
	uint64_t next_rip; /* the call's return address: after the ENCLU */
};

/* 15 GPRs (not RSP) in pop order, then an iretq frame. */
struct sgxrt_iframe {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, cs, rflags, rsp, ss;
};

enum sgxrt_thread_state {
	/* Not inside: signals find nothing to do. */
	RT_OUTSIDE,
	/* EENTER/ERESUME bookkeeping is being done: a kick only marks the
	 * thread, which then leaves at once (enclu.c). */
	RT_ENTERING,
	/* Inside: frame holds the state the enclave starts with until RIP
	 * is in ELRANGE; a kick or an exception makes an AEX. */
	RT_INSIDE,
};

struct sgxrt_thread {
	struct sgxrt_iframe frame;
	uint64_t fsbase, gsbase; /* what frame runs with */
	uint64_t host_fs, host_gs;
	uint8_t fx_valid;
	uint8_t pad0[15];
	uint8_t fxsave[512] __attribute__((aligned(16)));

	int tid;
	_Atomic int state; /* enum sgxrt_thread_state */
	_Atomic int kicked;
	struct sgxrt_enclave *_Atomic encl; /* the enclave it is in */
	struct sgx_cpu_thread cpu; /* the processor's view */
	uint64_t saved_mask; /* the program's signal mask, outside */
	void *altstack;
	struct sgxrt_thread *next_free;
};

_Static_assert(offsetof(struct sgxrt_thread, frame) == T_FRAME, "T_FRAME");
_Static_assert(offsetof(struct sgxrt_thread, fsbase) == T_FSBASE, "T_FSBASE");
_Static_assert(offsetof(struct sgxrt_thread, gsbase) == T_GSBASE, "T_GSBASE");
_Static_assert(offsetof(struct sgxrt_thread, host_fs) == T_HOST_FS, "T_HOST_FS");
_Static_assert(offsetof(struct sgxrt_thread, host_gs) == T_HOST_GS, "T_HOST_GS");
_Static_assert(offsetof(struct sgxrt_thread, fx_valid) == T_FX_VALID, "T_FX_VALID");
_Static_assert(offsetof(struct sgxrt_thread, fxsave) == T_FXSAVE, "T_FXSAVE");
_Static_assert(sizeof(struct sgxrt_iframe) == T_FSBASE, "frame size");

struct sgxrt_enclave {
	uint64_t base, size;
	struct sgxrt_enclave_ops ops;
	void *ctx;
	/* The runtime's TLB: per page, the EPC address last translated, 0
	 * for none.  Checked against the EPCM by every use. */
	_Atomic(uintptr_t) *tlb;
	int slot;
};

/* The machine and the enclaves, readable from signal handlers. */
extern struct sgx_cpu *sgxrt__cpu;
struct sgxrt_enclave *sgxrt__enclave_at(uint64_t addr);
/* Called from enter.S without TLS. */
struct sgxrt_thread *sgxrt__thread_of_tid(int tid);
/* The counters (sgxrt_stats()). */
extern struct sgxrt_stats_atomic {
	_Atomic uint64_t eenters, eresumes, eexits, aexs, kicks, ereports, egetkeys;
} sgxrt__counts;

/* AEX of t from state: writes the SSA frame, leaves, and fills *out with
 * where the thread continues: the enter function's exception exit
 * (exception: vector >= 0) or its AEP (an interrupt), host FS and GS.
 * The program's signal mask to restore is t->saved_mask. */
void sgxrt__aex(struct sgxrt_thread *t, const struct sgx_gprsgx *state,
		const struct sgx_enclu_event *ev, uint64_t report_addr, struct sgxrt_iframe *out);

/* EENTER (resume false) or ERESUME for t on e, with the translation
 * retried when the EPCM says it is stale: 0 with entry filled (t is then
 * inside), or the leaf's fault, and *fault_addr the address it concerns. */
int sgxrt__enter_leaf(struct sgxrt_thread *t, struct sgxrt_enclave *e, bool resume,
		      uint64_t tcs_lin, uint64_t aep, uint64_t ursp, uint64_t urbp,
		      struct sgx_enclu_entry *entry, uint64_t *fault_addr);
/* The calling thread's state, made on its first use (it allocates). */
struct sgxrt_thread *sgxrt__thread_self(void);
/* The signal mask inside an enclave (the kernel's 64-bit set). */
uint64_t sgxrt__enclave_sigmask(void);

/* cpuid.c: a SIGSEGV that is an armed thread's CPUID (its #GP), and
 * its answer from the model: registers set, RIP past it; false for any
 * other signal.  Async-signal-safe. */
bool sgxrt__is_cpuid(int signo, const siginfo_t *si, const ucontext_t *uc);
bool sgxrt__cpuid_trap(int signo, const siginfo_t *si, ucontext_t *uc);

/* enter.S. */
int sgxrt__kick_signo(void);
extern char sgxrt__aep[], sgxrt__handle_exception[], sgxrt__window_start[], sgxrt__window_end[];
extern int sgxrt__fsgsbase;
void sgxrt__sig_entry(int signo, siginfo_t *si, void *uc);
void sgxrt__sig_restorer(void);
uint64_t sgxrt__rdfs(void);
uint64_t sgxrt__rdgs(void);
#endif

#endif /* SGXEMU_RUNTIME_ENCLU_INTERNAL_H */
