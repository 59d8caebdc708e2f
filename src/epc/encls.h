/*
 * encls.h: the ENCLS leaves as the SGX core and the page cache call them,
 * one thin wrapper per leaf, and the one place their answers are decoded
 * (after the kernel's arch/x86/kernel/cpu/sgx/encls.h).
 *
 * An answer is 0, an SGX error code (the leaf failed and says why), or a
 * fault, ENCLS_FAULT(trapnr) (the leaf did nothing): encls_faulted(),
 * encls_failed() and encls_trapnr() of cpu.h tell them apart, and
 * encls_machine_checked() below names the one fault the core acts on.
 * The answers stay architecture codes up to the caller that turns them
 * into an errno.
 *
 * Conflicts.  A leaf that meets an EPC page another leaf is using answers
 * what its SDM concurrency table says: SGX_EPC_PAGE_CONFLICT for EBLOCK
 * (and for an ETRACK that meets another ETRACK), #GP for every other leaf
 * the core calls.  Which can happen to the core's leaves?
 *
 *  - Its own leaves never meet: every leaf on an enclave's pages runs
 *    under encl->lock (ECREATE and the page cache's sanitizing EREMOVEs
 *    run on frames nothing else can name yet), and a frame belongs to one
 *    enclave at a time.
 *  - Threads inside an enclave: EENTER runs under encl->lock too
 *    (sgx_encl_enter()); EEXIT and AEX take no EPC page and the emulated
 *    processor never reports them as a conflict (cpu/thread.c); EGETKEY
 *    reads its SECS as an implicit operand, and a SECS with a thread
 *    inside is never the target of the core's leaves (its TCS stays
 *    resident, so the SECS has a child).
 *  - Leaves software runs on the machine directly, outside the core: a
 *    debugger's EDBGRD/EDBGWR, a tool.  The core offers no debugger access
 *    of its own (the kernel's ptrace access takes encl->lock, and so will
 *    a driver's), so these are outside its contract.
 *
 * So within the contract nothing conflicts, and the wrappers retry only
 * what is cheap to retry and cannot hide a bug: SGX_EPC_PAGE_CONFLICT,
 * which the SDM defines as "another leaf has the page, try again", a few
 * hundred times (encls_retry()), counted in the core's conflict_retries.
 * A #GP is never retried: the core cannot tell a #GP from a conflict with
 * a leaf outside its contract from one of a malformed operand, and the
 * latter is a bug in the core that retrying would hide and slow down.  It
 * fails the operation as the kernel's callers fail it (EWB: the page stays
 * resident; EREMOVE: the frame is leaked; EADD, ELDU: -EIO).
 */
#ifndef SGXEMU_EPC_ENCLS_H
#define SGXEMU_EPC_ENCLS_H

#include <sched.h>
#include <stdatomic.h>

#include "sgxemu/cpu.h"
#include "sgxemu/epc.h"

/* The leaf machine-checked: the frame, or a page it names (its SECS, its
 * VA page), is poisoned. */
static inline bool encls_machine_checked(int ret)
{
	return encls_faulted(ret) && encls_trapnr(ret) == X86_TRAP_MC;
}

/* SGX_EPC_PAGE_CONFLICT: another leaf had the page; the leaf did nothing
 * and may be run again (see above). */
static inline bool encls_conflict(int ret)
{
	return ret == SGX_EPC_PAGE_CONFLICT;
}

/* Times a leaf runs again after SGX_EPC_PAGE_CONFLICT before the answer
 * stands: the other leaf holds the page for microseconds (an EWB's
 * AES-GCM pass at most), and each try yields the processor once. */
#define ENCLS_CONFLICT_TRIES 256

/*
 * Runs the leaf expression again while it answers SGX_EPC_PAGE_CONFLICT,
 * up to ENCLS_CONFLICT_TRIES times, adding each run again to *retries
 * (when not NULL).  Only for leaves whose table answers a conflict with
 * SGX_EPC_PAGE_CONFLICT; any other answer is returned at once.
 */
#define encls_retry(retries, expr)                                              \
	({                                                                      \
		_Atomic uint64_t *_retries = (retries);                         \
		unsigned int _n = 0;                                            \
		int _r;                                                         \
		while (encls_conflict(_r = (expr)) && ++_n < ENCLS_CONFLICT_TRIES) { \
			if (_retries)                                           \
				atomic_fetch_add_explicit(_retries, 1,          \
							  memory_order_relaxed); \
			sched_yield();                                          \
		}                                                               \
		_r;                                                             \
	})

/* --- The leaves ------------------------------------------------------------
 * Each takes the machine, the PAGEINFO or other memory operands as the
 * leaf does, and EPC pages as the page cache's frames.  None retries a
 * fault.
 */

static inline int epc_ecreate(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo,
			      struct sgx_epc_page *secs)
{
	return encls_ecreate(cpu, pginfo, secs->addr);
}

static inline int epc_eadd(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo,
			   struct sgx_epc_page *page)
{
	return encls_eadd(cpu, pginfo, page->addr);
}

/* EEXTEND of the 256-byte chunk at offset in page. */
static inline int epc_eextend(struct sgx_cpu *cpu, struct sgx_epc_page *secs,
			      struct sgx_epc_page *page, unsigned int offset)
{
	return encls_eextend(cpu, secs->addr, (uint8_t *)page->addr + offset);
}

static inline int epc_einit(struct sgx_cpu *cpu, const struct sgx_sigstruct *sigstruct,
			    const struct sgx_einittoken *token, struct sgx_epc_page *secs)
{
	return encls_einit(cpu, sigstruct, token, secs->addr);
}

static inline int epc_eremove(struct sgx_cpu *cpu, struct sgx_epc_page *page)
{
	return encls_eremove(cpu, page->addr);
}

static inline int epc_epa(struct sgx_cpu *cpu, struct sgx_epc_page *page)
{
	return encls_epa(cpu, page->addr);
}

/* EBLOCK's table answers a conflict with SGX_EPC_PAGE_CONFLICT: retried. */
static inline int epc_eblock(struct sgx_cpu *cpu, struct sgx_epc_page *page,
			     _Atomic uint64_t *retries)
{
	return encls_retry(retries, encls_eblock(cpu, page->addr));
}

/* ETRACK answers SGX_EPC_PAGE_CONFLICT when it meets another ETRACK:
 * retried. */
static inline int epc_etrack(struct sgx_cpu *cpu, struct sgx_epc_page *secs,
			     _Atomic uint64_t *retries)
{
	return encls_retry(retries, encls_etrack(cpu, secs->addr));
}

static inline int epc_ewb(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo,
			  struct sgx_epc_page *page, void *va_slot)
{
	return encls_ewb(cpu, pginfo, page->addr, va_slot);
}

static inline int epc_eldu(struct sgx_cpu *cpu, const struct sgx_pageinfo *pginfo,
			   struct sgx_epc_page *page, void *va_slot)
{
	return encls_eldu(cpu, pginfo, page->addr, va_slot);
}

#endif /* SGXEMU_EPC_ENCLS_H */
