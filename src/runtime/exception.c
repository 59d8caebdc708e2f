/*
 * exception.c: the runtime's signal handlers: the ENCLU trap (EEXIT,
 * EREPORT, EGETKEY inside an enclave), AEX on an exception inside an
 * enclave, and the kick.
 *
 * enter.S's sgxrt__sig_entry has put the host's FS and GS back before
 * sgxrt__signal() runs, and puts back what sgxrt__signal() leaves in its
 * two slots when it returns.  Everything here is async-signal-safe: the
 * leaves take frame locks and use no allocator, the counters are atomics,
 * the only system calls are rt_sigaction and tgkill.
 *
 * Which signals are the enclave's.  A signal is taken as an event inside
 * the enclave when the thread is inside (RT_INSIDE) and the interrupted
 * RIP is in that enclave's ELRANGE; then a SIGSEGV or SIGBUS the fault
 * service did not take, a SIGFPE, a SIGILL that is no ENCLU, or a SIGTRAP
 * is an exception, and an ENCLU (SIGILL on hosts where it is #UD, SIGSEGV
 * with SI_KERNEL where it is #GP) is the trap.  Everything else goes to
 * the handler the process had before (the program's, a sanitizer's, or
 * the default action).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime/enclu_internal.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

int sgxrt__fsgsbase;

/* The kernel's struct sigaction for rt_sigaction. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static const int handled[] = { SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP, 0 /* kick */ };
#define NR_HANDLED (sizeof(handled) / sizeof(handled[0]))
static struct ksigaction previous[65];
static sgxrt_fault_hook_t _Atomic fault_hook;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

int sgxrt__kick_signo(void)
{
	return SIGRTMAX - 2;
}

void sgxrt_set_fault_hook(sgxrt_fault_hook_t hook)
{
	atomic_store(&fault_hook, hook);
}

static int ksigaction(int signo, const struct ksigaction *act, struct ksigaction *old)
{
	return syscall(SYS_rt_sigaction, signo, act, old, 8) ? -errno : 0;
}

int sgxrt_enclu_init(struct sgx_cpu *cpu)
{
	struct ksigaction sa;
	int ret = 0;

	if (!cpu)
		return -EINVAL;
	pthread_mutex_lock(&init_lock);
	if (sgxrt__cpu) {
		ret = sgxrt__cpu == cpu ? 0 : -EINVAL;
		goto out;
	}
	sgxrt__fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	memset(&sa, 0, sizeof(sa));
	sa.handler = (void *)sgxrt__sig_entry;
	sa.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_RESTART;
	sa.restorer = (void *)sgxrt__sig_restorer;
	/* The program's asynchronous signals and the kick wait while a
	 * handler runs; faults in the handler itself stay deliverable. */
	sa.mask = ~((1ULL << (SIGILL - 1)) | (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) |
		    (1ULL << (SIGFPE - 1)) | (1ULL << (SIGTRAP - 1)));
	for (unsigned int i = 0; i < NR_HANDLED; i++) {
		int signo = handled[i] ? handled[i] : sgxrt__kick_signo();

		ret = ksigaction(signo, &sa, &previous[signo]);
		if (ret)
			goto out;
	}
	__atomic_store_n(&sgxrt__cpu, cpu, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&init_lock);
	return ret;
}

/* Hands the signal to whoever had it before: a handler is called, the
 * default action is put back for the fault to happen again (synchronous
 * signals) or taken at once. */
static void chain(int signo, siginfo_t *si, ucontext_t *uc)
{
	const struct ksigaction *old = &previous[signo];

	if (old->handler == (void *)SIG_IGN)
		return;
	if (old->handler == (void *)SIG_DFL) {
		struct ksigaction dfl = { .handler = (void *)SIG_DFL };

		if (signo == sgxrt__kick_signo())
			return;
		(void)ksigaction(signo, &dfl, NULL);
		if (si->si_code <= 0 || signo == SIGTRAP)
			(void)syscall(SYS_tgkill, getpid(), (int)syscall(SYS_gettid), signo);
		return;
	}
	if (old->flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))old->handler)(signo, si, uc);
	else
		((void (*)(int))old->handler)(signo);
}

/* --- State between the ucontext and GPRSGX ------------------------------ */

static void state_from_uc(const ucontext_t *uc, const uint64_t *fsgs, struct sgx_gprsgx *s)
{
	const greg_t *g = uc->uc_mcontext.gregs;

	memset(s, 0, sizeof(*s));
	s->rax = (uint64_t)g[REG_RAX];
	s->rcx = (uint64_t)g[REG_RCX];
	s->rdx = (uint64_t)g[REG_RDX];
	s->rbx = (uint64_t)g[REG_RBX];
	s->rsp = (uint64_t)g[REG_RSP];
	s->rbp = (uint64_t)g[REG_RBP];
	s->rsi = (uint64_t)g[REG_RSI];
	s->rdi = (uint64_t)g[REG_RDI];
	s->r8 = (uint64_t)g[REG_R8];
	s->r9 = (uint64_t)g[REG_R9];
	s->r10 = (uint64_t)g[REG_R10];
	s->r11 = (uint64_t)g[REG_R11];
	s->r12 = (uint64_t)g[REG_R12];
	s->r13 = (uint64_t)g[REG_R13];
	s->r14 = (uint64_t)g[REG_R14];
	s->r15 = (uint64_t)g[REG_R15];
	s->rflags = (uint64_t)g[REG_EFL];
	s->rip = (uint64_t)g[REG_RIP];
	s->fsbase = fsgs[0];
	s->gsbase = fsgs[1];
}

static void state_from_frame(const struct sgxrt_thread *t, struct sgx_gprsgx *s)
{
	const struct sgxrt_iframe *f = &t->frame;

	memset(s, 0, sizeof(*s));
	s->rax = f->rax, s->rbx = f->rbx, s->rcx = f->rcx, s->rdx = f->rdx;
	s->rsi = f->rsi, s->rdi = f->rdi, s->rbp = f->rbp, s->rsp = f->rsp;
	s->r8 = f->r8, s->r9 = f->r9, s->r10 = f->r10, s->r11 = f->r11;
	s->r12 = f->r12, s->r13 = f->r13, s->r14 = f->r14, s->r15 = f->r15;
	s->rip = f->rip;
	s->rflags = f->rflags;
	s->fsbase = t->fsbase;
	s->gsbase = t->gsbase;
}

/* Loads a frame into the ucontext: the signal returns to it. */
static void frame_to_uc(const struct sgxrt_iframe *f, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;

	g[REG_RAX] = (greg_t)f->rax;
	g[REG_RBX] = (greg_t)f->rbx;
	g[REG_RCX] = (greg_t)f->rcx;
	g[REG_RDX] = (greg_t)f->rdx;
	g[REG_RSI] = (greg_t)f->rsi;
	g[REG_RDI] = (greg_t)f->rdi;
	g[REG_RBP] = (greg_t)f->rbp;
	g[REG_R8] = (greg_t)f->r8;
	g[REG_R9] = (greg_t)f->r9;
	g[REG_R10] = (greg_t)f->r10;
	g[REG_R11] = (greg_t)f->r11;
	g[REG_R12] = (greg_t)f->r12;
	g[REG_R13] = (greg_t)f->r13;
	g[REG_R14] = (greg_t)f->r14;
	g[REG_R15] = (greg_t)f->r15;
	g[REG_RSP] = (greg_t)f->rsp;
	g[REG_RIP] = (greg_t)f->rip;
	g[REG_EFL] = (greg_t)f->rflags;
}

void sgxrt__aex(struct sgxrt_thread *t, const struct sgx_gprsgx *state,
		const struct sgx_enclu_event *ev, uint64_t report_addr, struct sgxrt_iframe *out)
{
	struct sgx_gprsgx syn;

	enclu_aex(sgxrt__cpu, &t->cpu, state, ev, &syn);
	atomic_store(&t->state, RT_OUTSIDE);
	atomic_store(&t->encl, NULL);
	atomic_fetch_add_explicit(&sgxrt__counts.aexs, 1, memory_order_relaxed);
	memset(out, 0, sizeof(*out));
	out->rax = syn.rax;
	out->rbx = syn.rbx;
	out->rcx = syn.rcx;
	out->rsp = syn.rsp;
	out->rbp = syn.rbp;
	out->rflags = syn.rflags;
	out->cs = t->frame.cs;
	out->ss = t->frame.ss;
	if (ev->vector < 0 || syn.rip != (uint64_t)(uintptr_t)sgxrt__aep) {
		/* An interrupt, or the program's own AEP: the AEP (whose
		 * ERESUME continues the enclave). */
		out->rip = syn.rip;
	} else {
		/* An exception: the kernel would signal it; the vDSO's fixup
		 * reports it in the run structure instead. */
		out->rip = (uint64_t)(uintptr_t)sgxrt__handle_exception;
		out->rdi = (uint64_t)ev->vector;
		out->rsi = ev->error_code;
		out->rdx = report_addr;
	}
}

/* AEX from the ucontext (state) or the thread's frame, and the return of
 * the signal to where the processor goes next. */
static void aex_to_uc(struct sgxrt_thread *t, const struct sgx_gprsgx *state,
		      struct sgx_enclu_event *ev, uint64_t report_addr, ucontext_t *uc,
		      uint64_t *fsgs)
{
	struct sgxrt_iframe out;

	sgxrt__aex(t, state, ev, report_addr, &out);
	frame_to_uc(&out, uc);
	fsgs[0] = t->host_fs;
	fsgs[1] = t->host_gs;
	memcpy(&uc->uc_sigmask, &t->saved_mask, sizeof(t->saved_mask));
}

/*
 * A kick inside, entered through the enter function: its AEP does nothing
 * but ERESUME, so the AEX and that ERESUME are made here and the signal
 * returns straight into the enclave, its whole register file (AVX state
 * included, which the SSA's FXSAVE region does not hold) untouched in the
 * signal frame.  Not when a signal of the program waits (it is delivered
 * at the AEP, between the two, as after an interrupt on hardware), nor
 * when the ERESUME faults (the AEP then meets the fault).  true when done.
 */
static bool kick_resume_here(struct sgxrt_thread *t, struct sgxrt_enclave *e,
			     const struct sgx_gprsgx *state, struct sgx_enclu_event *ev,
			     ucontext_t *uc, uint64_t *fsgs)
{
	struct sgx_enclu_entry entry;
	struct sgxrt_iframe out;
	uint64_t pending = 0, fault_addr, tcs = t->cpu.tcs_linaddr;

	if (t->cpu.aep != (uint64_t)(uintptr_t)sgxrt__aep)
		return false;
	if (syscall(SYS_rt_sigpending, &pending, 8) == 0 &&
	    (pending & ~t->saved_mask & ~(1ULL << (sgxrt__kick_signo() - 1))))
		return false;
	sgxrt__aex(t, state, ev, 0, &out);
	atomic_store(&t->encl, e);
	atomic_store(&t->state, RT_ENTERING);
	if (sgxrt__enter_leaf(t, e, true, tcs, (uint64_t)(uintptr_t)sgxrt__aep, 0, 0, &entry,
			      &fault_addr)) {
		atomic_store(&t->state, RT_OUTSIDE);
		atomic_store(&t->encl, NULL);
		frame_to_uc(&out, uc);
		fsgs[0] = t->host_fs;
		fsgs[1] = t->host_gs;
		memcpy(&uc->uc_sigmask, &t->saved_mask, sizeof(t->saved_mask));
		return true;
	}
	atomic_fetch_add_explicit(&sgxrt__counts.eresumes, 1, memory_order_relaxed);
	/* The state ERESUME loads is the one just saved: the ucontext holds
	 * it already, FS/GS and the mask stay the enclave's. */
	fsgs[0] = entry.fsbase;
	fsgs[1] = entry.gsbase;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)entry.gprs.rip;
	atomic_store(&t->state, RT_INSIDE);
	return true;
}

/* --- The ENCLU trap ----------------------------------------------------- */

static bool is_enclu(const ucontext_t *uc)
{
	const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];

	return ip[0] == 0x0f && ip[1] == 0x01 && ip[2] == 0xd7;
}

/* [a, a + len) inside the enclave. */
static bool in_encl(const struct sgxrt_enclave *e, uint64_t a, uint64_t len)
{
	return a >= e->base && len <= e->size && a - e->base <= e->size - len;
}

/* SDM, EGETKEY flags: ZF set on an error, CF PF AF OF SF cleared. */
static void set_status_flags(greg_t *g, bool error)
{
	g[REG_EFL] &= ~(greg_t)0x8d5;
	if (error)
		g[REG_EFL] |= 0x40;
}

/* Runs the leaf in RAX for the enclave the thread is in.  0 with the
 * ucontext updated, or a fault for an AEX. */
static int enclu_leaf(struct sgxrt_thread *t, ucontext_t *uc, uint64_t *fsgs)
{
	greg_t *g = uc->uc_mcontext.gregs;
	struct sgxrt_enclave *e = atomic_load(&t->encl);
	uint64_t rbx = (uint64_t)g[REG_RBX], rcx = (uint64_t)g[REG_RCX];
	uint64_t rdx = (uint64_t)g[REG_RDX];
	int ret;

	switch (g[REG_RAX]) {
	case EEXIT:
		/* SDM, EEXIT: RIP = RBX, RCX = the AEP; out of enclave mode,
		 * the host's FS and GS.  The other registers are the
		 * enclave's to clear. */
		g[REG_RCX] = (greg_t)enclu_eexit(sgxrt__cpu, &t->cpu);
		g[REG_RIP] = (greg_t)rbx;
		atomic_store(&t->state, RT_OUTSIDE);
		atomic_store(&t->encl, NULL);
		fsgs[0] = t->host_fs;
		fsgs[1] = t->host_gs;
		memcpy(&uc->uc_sigmask, &t->saved_mask, sizeof(t->saved_mask));
		atomic_fetch_add_explicit(&sgxrt__counts.eexits, 1, memory_order_relaxed);
		return 0;
	case EGETKEY: {
		if (!in_encl(e, rbx, sizeof(struct sgx_keyrequest)) || !in_encl(e, rcx, 16))
			return ENCLS_GP;
		ret = enclu_egetkey(sgxrt__cpu, t->cpu.secs,
				    (const struct sgx_keyrequest *)(uintptr_t)rbx,
				    (uint8_t *)(uintptr_t)rcx);
		if (encls_faulted(ret))
			return ret;
		g[REG_RAX] = ret;
		set_status_flags(g, ret != 0);
		atomic_fetch_add_explicit(&sgxrt__counts.egetkeys, 1, memory_order_relaxed);
		break;
	}
	case EREPORT:
		ret = enclu_ereport(sgxrt__cpu, &t->cpu, (const void *)(uintptr_t)rbx,
				    (const uint8_t *)(uintptr_t)rcx, (void *)(uintptr_t)rdx);
		if (ret)
			return ret;
		atomic_fetch_add_explicit(&sgxrt__counts.ereports, 1, memory_order_relaxed);
		break;
	default:
		/* EENTER and ERESUME inside an enclave, and the SGX2 leaves
		 * the model has not: #GP(0). */
		return ENCLS_GP;
	}
	g[REG_RIP] += 3;
	return 0;
}

/* --- Exceptions --------------------------------------------------------- */

/* The EPCM allows the access the #PF error code describes on the page at
 * addr (the runtime's TLB says which frame; an unknown page counts as
 * allowed: the fault is then the page table's). */
static bool epcm_allows(const struct sgxrt_enclave *e, uint64_t addr, uint64_t err)
{
	uintptr_t epc = atomic_load_explicit(&e->tlb[(addr - e->base) >> 12], memory_order_relaxed);
	struct sgx_epcm_info info;

	if (!epc || sgx_cpu_epcm_info(sgxrt__cpu, (void *)epc, &info) || !info.valid ||
	    info.linaddr != (addr & ~0xfffULL))
		return true;
	if (info.type != SGX_PAGE_TYPE_REG)
		return false; /* TCS and the rest: no access from the enclave */
	if ((err & 0x10) && !(info.perms & SGX_SECINFO_X))
		return false;
	if ((err & 0x2) && !(info.perms & SGX_SECINFO_W))
		return false;
	return (info.perms & SGX_SECINFO_R) != 0;
}

/* The architectural event of a host signal inside the enclave. */
static void event_of(int signo, const siginfo_t *si, const ucontext_t *uc,
		     const struct sgxrt_enclave *e, struct sgx_enclu_event *ev, uint64_t *report)
{
	const greg_t *g = uc->uc_mcontext.gregs;
	uint64_t trapno = (uint64_t)g[REG_TRAPNO], err = (uint64_t)g[REG_ERR];

	memset(ev, 0, sizeof(*ev));
	*report = 0;
	switch (signo) {
	case SIGSEGV:
	case SIGBUS:
		if (sgxrt__is_cpuid(signo, si, uc)) {
			/* CPUID is illegal in an enclave (SDM Vol. 3D, 37.6.1):
			 * #UD, where faulting made it #GP. */
			ev->vector = X86_TRAP_UD;
			break;
		}
		if (trapno == X86_TRAP_PF) {
			uint64_t addr = (uint64_t)(uintptr_t)si->si_addr;

			ev->vector = X86_TRAP_PF;
			/* User mode, and an EPCM refusal carries the SGX bit
			 * (SDM, "Page Fault Error Codes"). */
			err |= 0x4;
			if (in_encl(e, addr, 1) && !epcm_allows(e, addr, err))
				err = 0x8000 | 0x1 | 0x4 | (err & 0x12);
			ev->error_code = (uint32_t)err;
			ev->maddr = addr;
			/* CR2 with its low 12 bits cleared. */
			*report = addr & ~0xfffULL;
		} else {
			ev->vector = X86_TRAP_GP;
			ev->error_code = (uint32_t)err;
		}
		break;
	case SIGFPE:
		ev->vector = (int)trapno; /* #DE, #MF or #XM */
		break;
	case SIGILL:
		ev->vector = X86_TRAP_UD;
		break;
	case SIGTRAP:
		ev->vector = trapno == 1 ? 1 : 3;
		ev->software = ev->vector == 3;
		break;
	}
	ev->fxsave = uc->uc_mcontext.fpregs;
}

/*
 * ENCLU EENTER or ERESUME executed by the program itself (a loader that
 * does not use the enter function, Gramine's way): carried out here, and
 * the signal returns into the enclave with every register, RFLAGS, FS and
 * GS and the signal mask set at once.  RCX is the program's AEP; an AEX
 * later goes there (exception.c's sgxrt__aex(): an exception is then
 * handed on to the program's handler as the kernel would deliver it).
 * The thread's state is made on its first entry, which allocates: a
 * program's thread at an ENCLU holds no allocator lock.  false when the
 * leaf faulted (the program gets the signal as it came).
 */
static bool direct_enter(ucontext_t *uc, uint64_t *fsgs)
{
	greg_t *g = uc->uc_mcontext.gregs;
	bool resume = g[REG_RAX] == ERESUME;
	uint64_t tcs = (uint64_t)g[REG_RBX], fault_addr;
	struct sgx_enclu_entry entry;
	struct sgxrt_enclave *e = sgxrt__enclave_at(tcs);
	struct sgxrt_thread *t;
	int ret;

	if (!e || !(t = sgxrt__thread_self()))
		return false;
	atomic_store(&t->encl, e);
	atomic_store(&t->state, RT_ENTERING);
	ret = sgxrt__enter_leaf(t, e, resume, tcs, (uint64_t)g[REG_RCX], (uint64_t)g[REG_RSP],
				(uint64_t)g[REG_RBP], &entry, &fault_addr);
	if (ret) {
		atomic_store(&t->state, RT_OUTSIDE);
		atomic_store(&t->encl, NULL);
		return false;
	}
	atomic_fetch_add_explicit(resume ? &sgxrt__counts.eresumes : &sgxrt__counts.eenters, 1,
				  memory_order_relaxed);
	t->frame.cs = (uint64_t)(uint16_t)g[REG_CSGSFS];
	if (resume) {
		const struct sgx_gprsgx *s = &entry.gprs;

		g[REG_RAX] = (greg_t)s->rax;
		g[REG_RBX] = (greg_t)s->rbx;
		g[REG_RCX] = (greg_t)s->rcx;
		g[REG_RDX] = (greg_t)s->rdx;
		g[REG_RSI] = (greg_t)s->rsi;
		g[REG_RDI] = (greg_t)s->rdi;
		g[REG_RBP] = (greg_t)s->rbp;
		g[REG_RSP] = (greg_t)s->rsp;
		g[REG_R8] = (greg_t)s->r8;
		g[REG_R9] = (greg_t)s->r9;
		g[REG_R10] = (greg_t)s->r10;
		g[REG_R11] = (greg_t)s->r11;
		g[REG_R12] = (greg_t)s->r12;
		g[REG_R13] = (greg_t)s->r13;
		g[REG_R14] = (greg_t)s->r14;
		g[REG_R15] = (greg_t)s->r15;
		g[REG_EFL] = (greg_t)((s->rflags & 0x244dd5ULL) | 0x202ULL);
		if (entry.fxsave_valid && uc->uc_mcontext.fpregs)
			memcpy(uc->uc_mcontext.fpregs, entry.fxsave, sizeof(entry.fxsave));
	} else {
		/* RAX = CSSA, RBX = TCS, RCX = the instruction after ENCLU. */
		g[REG_RAX] = (greg_t)entry.cssa;
		g[REG_RCX] = g[REG_RIP] + 3;
		g[REG_EFL] &= ~(greg_t)0x100;
	}
	g[REG_RIP] = (greg_t)entry.rip;
	fsgs[0] = entry.fsbase;
	fsgs[1] = entry.gsbase;
	memcpy(&t->saved_mask, &uc->uc_sigmask, sizeof(t->saved_mask));
	{
		uint64_t m = sgxrt__enclave_sigmask();

		memcpy(&uc->uc_sigmask, &m, sizeof(m));
	}
	atomic_store(&t->state, RT_INSIDE);
	return true;
}

__attribute__((no_sanitize_thread)) void sgxrt__signal(int signo, siginfo_t *si, ucontext_t *uc,
						       struct sgxrt_thread *t, uint64_t *fsgs)
{
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	struct sgxrt_enclave *e = t ? atomic_load(&t->encl) : NULL;
	int state = t ? atomic_load(&t->state) : RT_OUTSIDE;
	bool in_code = e && state == RT_INSIDE && in_encl(e, rip, 1);
	struct sgx_enclu_event ev;
	struct sgx_gprsgx s;
	uint64_t report;
	sgxrt_fault_hook_t hook;
	bool own_aep;
	int ret;

	if (signo == sgxrt__kick_signo()) {
		atomic_fetch_add_explicit(&sgxrt__counts.kicks, 1, memory_order_relaxed);
		if (!t || state == RT_OUTSIDE)
			return;
		if (state == RT_ENTERING) {
			atomic_store(&t->kicked, 1);
			return;
		}
		/* Inside: the interrupt's AEX, from the live state or, if the
		 * enclave has not run yet, from the frame it starts with. */
		memset(&ev, 0, sizeof(ev));
		ev.vector = -1;
		if (in_code) {
			state_from_uc(uc, fsgs, &s);
			ev.fxsave = uc->uc_mcontext.fpregs;
			if (kick_resume_here(t, e, &s, &ev, uc, fsgs))
				return;
		} else {
			state_from_frame(t, &s);
		}
		aex_to_uc(t, &s, &ev, 0, uc, fsgs);
		return;
	}

	if (signo == SIGSEGV || signo == SIGBUS) {
		hook = atomic_load(&fault_hook);
		if (hook && !(signo == SIGSEGV && si->si_code == SI_KERNEL) && hook(signo, si, uc))
			return;
	}
	if (!in_code) {
		if (sgxrt__cpuid_trap(signo, si, uc))
			return;
		if ((signo == SIGILL || (signo == SIGSEGV && si->si_code == SI_KERNEL)) &&
		    is_enclu(uc) &&
		    (uc->uc_mcontext.gregs[REG_RAX] == EENTER ||
		     uc->uc_mcontext.gregs[REG_RAX] == ERESUME) &&
		    (!t || state == RT_OUTSIDE) && direct_enter(uc, fsgs))
			return;
		chain(signo, si, uc);
		return;
	}
	if ((signo == SIGILL || (signo == SIGSEGV && si->si_code == SI_KERNEL)) && is_enclu(uc)) {
		ret = enclu_leaf(t, uc, fsgs);
		if (!ret)
			return;
		/* The leaf faulted inside the enclave: AEX at the ENCLU. */
		memset(&ev, 0, sizeof(ev));
		ev.vector = encls_trapnr(ret);
		ev.fxsave = uc->uc_mcontext.fpregs;
		state_from_uc(uc, fsgs, &s);
		aex_to_uc(t, &s, &ev, 0, uc, fsgs);
		return;
	}
	event_of(signo, si, uc, e, &ev, &report);
	state_from_uc(uc, fsgs, &s);
	own_aep = t->cpu.aep != (uint64_t)(uintptr_t)sgxrt__aep;
	aex_to_uc(t, &s, &ev, report, uc, fsgs);
	/* Entered by the program's own ENCLU: after the AEX the kernel would
	 * deliver the exception to it, at its AEP with the synthetic state. */
	if (own_aep)
		chain(signo, si, uc);
}
