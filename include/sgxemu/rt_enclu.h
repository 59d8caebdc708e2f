/*
 * rt_enclu.h: the runtime's ENCLU on the program's own threads.
 *
 * What the hardware and the kernel's entry code do when a thread enters
 * and leaves an enclave, done in the client process over the emulated
 * processor (cpu.h, possibly in an arena the machine shares):
 *
 *   sgxrt_enter_enclave()  the vDSO's __vdso_sgx_enter_enclave, same ABI
 *                          (uapi_sgx.h): EENTER and ERESUME without a
 *                          trap, the exit and exception reporting, the
 *                          user handler loop;
 *   the ENCLU trap         ENCLU inside an enclave raises #UD (SIGILL) or
 *                          #GP (SIGSEGV, SI_KERNEL) on this host; the
 *                          handler carries out EEXIT, EREPORT and EGETKEY;
 *   AEX                    an exception inside the enclave (SIGSEGV or
 *                          SIGBUS the fault service does not take,
 *                          SIGFPE, SIGILL that is no ENCLU, SIGTRAP) saves
 *                          the state to the SSA frame and reaches the
 *                          enter function's exception exit, as the
 *                          kernel's vDSO fixup does;
 *   kicks                  sgxrt_kick_enclave() signals the threads inside
 *                          an enclave; each makes an AEX and resumes at
 *                          once, as after an interrupt, so that ETRACK
 *                          and EWB never wait on them for long.
 *
 * While a thread is inside, FS and GS carry the enclave's bases (TCS
 * OFSBASE, OGSBASE); every signal the runtime handles restores the
 * host's in assembly before any C code runs, and the program's own
 * asynchronous signals are blocked inside the enclave (they arrive at the
 * next exit or AEX).  The signal handlers are installed with the raw
 * system call, so that a sanitizer's wrappers never run on enclave FS.
 *
 * A loader's own ENCLU EENTER or ERESUME (Gramine's way, or a runtime
 * without the vDSO) traps too and is carried out by the handler; its AEP
 * is then the program's, and an exception inside reaches the handler the
 * program had before the runtime's (installed before sgxrt_enclu_init()),
 * at the AEP with the synthetic state, as the kernel would deliver it.
 *
 * Limits: AEX keeps the x87/SSE state
 * (the SSA's FXSAVE region, one-page SSA frames) but not AVX state;
 * EREPORT's and EGETKEY's operands are read through the program's own
 * mapping of the enclave, without EPCM checks of their pages.
 */
#ifndef SGXEMU_RT_ENCLU_H
#define SGXEMU_RT_ENCLU_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "sgxemu/cpu.h"
#include "sgxemu/uapi_sgx.h"

struct sgxrt_enclave;

/* How the runtime translates an enclave page (the page walk behind its
 * TLB).  page_frame makes the page at offset resident and gives its EPC
 * address: 0, or a negative errno (the entry then reports #PF).  Called
 * in normal context, on the entering thread, with no runtime lock held. */
struct sgxrt_enclave_ops {
	int (*page_frame)(void *ctx, uint64_t offset, void **epc);
};

/* Installs the signal handlers (once per process; later calls check cpu
 * is the same).  0, -EINVAL for another cpu, or -errno of rt_sigaction. */
int sgxrt_enclu_init(struct sgx_cpu *cpu);

/* The enclave at [base, base + size), mapped in this process at its
 * linear addresses.  Every page is translated once now (so that the
 * handlers can tell an EPCM fault from a page-table one without calling
 * out).  0, -EINVAL, -ENOSPC (too many enclaves), -ENOMEM. */
int sgxrt_enclave_register(uint64_t base, uint64_t size, const struct sgxrt_enclave_ops *ops,
			   void *ctx, struct sgxrt_enclave **out);
/* No thread may be inside; NULL is ignored. */
void sgxrt_enclave_unregister(struct sgxrt_enclave *encl);

/* Forgets the translation of the page at offset (the page left the EPC
 * or moved): the next entry through it asks page_frame again. */
void sgxrt_enclave_invalidate(struct sgxrt_enclave *encl, uint64_t offset);

/* The vDSO function (uapi_sgx.h). */
int sgxrt_enter_enclave(unsigned long rdi, unsigned long rsi, unsigned long rdx,
			unsigned int function, unsigned long r8, unsigned long r9,
			struct sgx_enclave_run *run);

/* The same, callable from C: it keeps R12-R15, which the vDSO's ABI does
 * not promise (an AEX clears them, as on hardware), as the kernel's
 * selftests' trampoline keeps them. */
int sgxrt_enter_enclave_c(unsigned long rdi, unsigned long rsi, unsigned long rdx,
			  unsigned int function, unsigned long r8, unsigned long r9,
			  struct sgx_enclave_run *run);

/* Asks every thread inside encl to leave it (an AEX, then ERESUME); the
 * number of threads signalled.  Async-signal-safe, any thread. */
int sgxrt_kick_enclave(struct sgxrt_enclave *encl);

/* The signal the kicks use (a real-time signal). */
int sgxrt_kick_signal(void);

/* The fault service (mappings, userfaultfd) sees every SIGSEGV and SIGBUS
 * first, with the host's FS: it returns true when it served the fault
 * (the access is then retried).  Async-signal-safe, as a handler. */
typedef bool (*sgxrt_fault_hook_t)(int signo, siginfo_t *si, void *uctx);
void sgxrt_set_fault_hook(sgxrt_fault_hook_t hook);

/* The processor state of the machine this process is a client of, mapped
 * at the machine's address on the first connection (runtime.h), or NULL
 * before it or when the machine shares none. */
struct sgx_cpu *sgxrt_machine_cpu(void);

struct sgxrt_stats {
	uint64_t eenters, eresumes, eexits, aexs, kicks, ereports, egetkeys;
};
void sgxrt_stats(struct sgxrt_stats *st);

#endif /* SGXEMU_RT_ENCLU_H */
