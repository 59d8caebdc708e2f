/*
 * enclu.c: EENTER and ERESUME on the program's threads (the processor's
 * part of the enter function's ENCLU), the thread and enclave registries
 * the signal handlers read, and kicks.
 *
 * Entering.  enter.S saves every register at its ENCLU and calls
 * sgxrt__enclu(), which translates the TCS and the SSA frame through the
 * enclave's TLB (asking page_frame on a miss or when the EPCM says the
 * translation no longer holds), runs enclu_eenter() or enclu_eresume(),
 * blocks the program's asynchronous signals, and leaves in the thread's
 * state the frame enter.S then starts: the enclave's first instruction,
 * or, when the leaf faulted, the enter function's exception exit with the
 * fault (as the kernel's vDSO fixup reports a faulting ENCLU).
 *
 * Kicks.  The kick signal reaches a thread in one of three states
 * (enclu_internal.h): outside it is ignored; while the entry's bookkeeping
 * runs it only marks the thread, and the entry, once its frame is made,
 * makes the AEX itself, before the enclave runs an instruction; inside,
 * the handler makes the AEX (exception.c).  Either way the thread leaves
 * (tracking completes, as ETRACK needs) and resumes from the AEP.
 *
 * Thread states are never freed: a kick may read one while its thread
 * exits, so a state goes to a free list for the next new thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/enclu_internal.h"

#define MAX_THREADS 4096 /* threads that have entered, alive at once */
#define MAX_ENCLAVES 256
#define ALTSTACK_SIZE (64 * 1024)
#define ENTRY_TRIES 8

struct sgx_cpu *sgxrt__cpu;
struct sgxrt_stats_atomic sgxrt__counts;

/* --- Threads ------------------------------------------------------------ */

/* Open addressing on the thread id; a slot's tid is 0 when free.  Written
 * under threads_lock, read from signal handlers without it. */
static struct {
	_Atomic int tid;
	struct sgxrt_thread *_Atomic t;
} thread_table[MAX_THREADS];
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sgxrt_thread *free_threads; /* threads_lock */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static __thread struct sgxrt_thread *self;

static unsigned int tid_hash(int tid)
{
	return ((unsigned int)tid * 2654435761U) % MAX_THREADS;
}

/* No TLS, no stack protector, nothing a sanitizer instruments: enter.S
 * calls it with FS possibly an enclave's. */
__attribute__((no_stack_protector, no_sanitize("address", "thread", "undefined")))
struct sgxrt_thread *
sgxrt__thread_of_tid(int tid)
{
	unsigned int h = tid_hash(tid);

	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		unsigned int s = (h + i) % MAX_THREADS;
		int v = atomic_load_explicit(&thread_table[s].tid, memory_order_acquire);

		if (v == tid)
			return atomic_load_explicit(&thread_table[s].t, memory_order_relaxed);
		if (v == 0)
			return NULL;
	}
	return NULL;
}

/* A removed slot keeps the probe chains intact: -1, never a tid. */
#define TID_TOMBSTONE (-1)

static void thread_release(void *arg)
{
	struct sgxrt_thread *t = arg;
	unsigned int h = tid_hash(t->tid);
	stack_t ss = { .ss_flags = SS_DISABLE };

	pthread_mutex_lock(&threads_lock);
	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		unsigned int s = (h + i) % MAX_THREADS;

		if (atomic_load(&thread_table[s].tid) == t->tid) {
			atomic_store(&thread_table[s].tid, TID_TOMBSTONE);
			break;
		}
	}
	t->next_free = free_threads;
	free_threads = t;
	pthread_mutex_unlock(&threads_lock);
	/* The alternate stack stays with the state, for the next thread. */
	(void)sigaltstack(&ss, NULL);
	self = NULL;
}

/* In a child of fork() only the forking thread lives, under a new thread
 * id: every entry of the table names a thread of the parent (whose id a
 * new thread here may get), so the table starts empty, and the forking
 * thread registers again at its next entry. */
static void thread_atfork_child(void)
{
	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		atomic_store(&thread_table[i].tid, 0);
		atomic_store(&thread_table[i].t, NULL);
	}
	pthread_mutex_init(&threads_lock, NULL);
	if (self) {
		self->next_free = free_threads;
		free_threads = self;
		self = NULL;
		(void)pthread_setspecific(thread_key, NULL);
	}
}

static void thread_key_make(void)
{
	(void)pthread_key_create(&thread_key, thread_release);
	(void)pthread_atfork(NULL, NULL, thread_atfork_child);
}

/* The calling thread's state, made on its first entry: registered by tid,
 * with an alternate signal stack (faults come on the enclave's small
 * stack, and enter.S's window must not have a signal frame written over
 * it) unless the thread has one.  NULL when out of memory or slots. */
static struct sgxrt_thread *thread_self(void)
{
	struct sgxrt_thread *t = self;
	stack_t old, ss;
	int tid;

	if (t)
		return t;
	(void)pthread_once(&thread_key_once, thread_key_make);
	tid = (int)syscall(SYS_gettid);
	pthread_mutex_lock(&threads_lock);
	t = free_threads;
	if (t)
		free_threads = t->next_free;
	pthread_mutex_unlock(&threads_lock);
	if (!t) {
		if (posix_memalign((void **)&t, 64, sizeof(*t)))
			return NULL;
		memset(t, 0, sizeof(*t));
		t->altstack = malloc(ALTSTACK_SIZE);
		if (!t->altstack) {
			free(t);
			return NULL;
		}
	}
	{
		void *alt = t->altstack;

		memset(t, 0, sizeof(*t));
		t->altstack = alt;
	}
	t->tid = tid;
	t->host_fs = sgxrt__rdfs();
	t->host_gs = sgxrt__rdgs();
	if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
		ss.ss_sp = t->altstack;
		ss.ss_size = ALTSTACK_SIZE;
		ss.ss_flags = 0;
		(void)sigaltstack(&ss, NULL);
	}

	pthread_mutex_lock(&threads_lock);
	{
		unsigned int h = tid_hash(tid), i;

		for (i = 0; i < MAX_THREADS; i++) {
			unsigned int s = (h + i) % MAX_THREADS;
			int v = atomic_load(&thread_table[s].tid);

			if (v == 0 || v == TID_TOMBSTONE) {
				atomic_store_explicit(&thread_table[s].t, t, memory_order_relaxed);
				atomic_store_explicit(&thread_table[s].tid, tid, memory_order_release);
				break;
			}
		}
		if (i == MAX_THREADS) {
			t->next_free = free_threads;
			free_threads = t;
			t = NULL;
		}
	}
	pthread_mutex_unlock(&threads_lock);
	if (!t)
		return NULL;
	(void)pthread_setspecific(thread_key, t);
	self = t;
	return t;
}

/* --- Enclaves ----------------------------------------------------------- */

static struct sgxrt_enclave *_Atomic enclaves[MAX_ENCLAVES];
static pthread_mutex_t enclaves_lock = PTHREAD_MUTEX_INITIALIZER;

struct sgxrt_enclave *sgxrt__enclave_at(uint64_t addr)
{
	for (unsigned int i = 0; i < MAX_ENCLAVES; i++) {
		struct sgxrt_enclave *e = atomic_load_explicit(&enclaves[i], memory_order_acquire);

		if (e && addr >= e->base && addr - e->base < e->size)
			return e;
	}
	return NULL;
}

/* The EPC address of the page at linear address lin, from the TLB or the
 * page walk (refresh: ignore the TLB). */
static int translate(struct sgxrt_enclave *e, uint64_t lin, bool refresh, void **epc)
{
	uint64_t page = (lin - e->base) >> 12;
	uintptr_t v = refresh ? 0 : atomic_load_explicit(&e->tlb[page], memory_order_relaxed);
	int ret;

	if (v) {
		*epc = (void *)v;
		return 0;
	}
	ret = e->ops.page_frame(e->ctx, page << 12, epc);
	if (ret)
		return ret;
	atomic_store_explicit(&e->tlb[page], (uintptr_t)*epc, memory_order_relaxed);
	return 0;
}

int sgxrt_enclave_register(uint64_t base, uint64_t size, const struct sgxrt_enclave_ops *ops,
			   void *ctx, struct sgxrt_enclave **out)
{
	struct sgxrt_enclave *e;
	int slot = -1;

	if (!ops || !ops->page_frame || !size || (base | size) & 4095 || base + size < base)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->tlb = calloc(size >> 12, sizeof(*e->tlb));
	if (!e->tlb) {
		free(e);
		return -ENOMEM;
	}
	e->base = base;
	e->size = size;
	e->ops = *ops;
	e->ctx = ctx;
	/* Translate what exists now, so that the handlers can read the
	 * EPCM of any page without calling out. */
	for (uint64_t off = 0; off < size; off += 4096) {
		void *epc;

		if (ops->page_frame(ctx, off, &epc) == 0)
			atomic_store(&e->tlb[off >> 12], (uintptr_t)epc);
	}
	pthread_mutex_lock(&enclaves_lock);
	for (int i = 0; i < MAX_ENCLAVES; i++)
		if (!atomic_load(&enclaves[i])) {
			slot = i;
			break;
		}
	if (slot >= 0) {
		e->slot = slot;
		atomic_store_explicit(&enclaves[slot], e, memory_order_release);
	}
	pthread_mutex_unlock(&enclaves_lock);
	if (slot < 0) {
		free(e->tlb);
		free(e);
		return -ENOSPC;
	}
	*out = e;
	return 0;
}

void sgxrt_enclave_unregister(struct sgxrt_enclave *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&enclaves_lock);
	atomic_store(&enclaves[e->slot], NULL);
	pthread_mutex_unlock(&enclaves_lock);
	free(e->tlb);
	free(e);
}

void sgxrt_enclave_invalidate(struct sgxrt_enclave *e, uint64_t offset)
{
	if (e && offset < e->size)
		atomic_store_explicit(&e->tlb[offset >> 12], 0, memory_order_relaxed);
}

/* --- EENTER and ERESUME ------------------------------------------------- */

static uint64_t read_cs(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	return v & 0xffff;
}

static uint64_t read_ss(void)
{
	uint64_t v;

	__asm__ volatile("mov %%ss, %0" : "=r"(v));
	return v & 0xffff;
}

/* The frame for the enter function's exception exit after ENCLU itself
 * faulted: every register as the ENCLU had it, the fault in RDI, RSI,
 * RDX (the kernel's vDSO fixup). */
static void frame_fault(struct sgxrt_thread *t, const struct sgxrt_gprs *g, int ret,
			uint64_t addr)
{
	struct sgxrt_iframe *f = &t->frame;

	memcpy(f, g, 15 * sizeof(uint64_t));
	f->rdi = (uint64_t)encls_trapnr(ret);
	f->rsi = 0;
	f->rdx = encls_trapnr(ret) == X86_TRAP_PF ? (addr & ~0xfffULL) : 0;
	f->rip = (uint64_t)(uintptr_t)sgxrt__handle_exception;
	f->rflags = g->rflags;
	f->rsp = (uint64_t)(uintptr_t)(&g->next_rip + 1);
	f->cs = read_cs();
	f->ss = read_ss();
	t->fsbase = t->host_fs;
	t->gsbase = t->host_gs;
	t->fx_valid = 0;
}

/* Signals the program gets inside an enclave: only the ones the runtime
 * handles (synchronous faults, the kick); SIGKILL and SIGSTOP anyway. */
static uint64_t enclave_sigmask(void)
{
	uint64_t allow = (1ULL << (SIGILL - 1)) | (1ULL << (SIGSEGV - 1)) |
			 (1ULL << (SIGBUS - 1)) | (1ULL << (SIGFPE - 1)) |
			 (1ULL << (SIGTRAP - 1)) | (1ULL << (sgxrt__kick_signo() - 1));

	return ~allow;
}

static void sigmask_swap(uint64_t set, uint64_t *old)
{
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, old, 8);
}

/* One try at the leaf: translate the TCS and the SSA frame, run it. */
static int enter_once(struct sgxrt_thread *t, struct sgxrt_enclave *e, bool resume,
		      uint64_t tcs_lin, uint64_t aep, uint64_t ursp, uint64_t urbp, bool refresh,
		      struct sgx_enclu_entry *entry, uint64_t *fault_addr)
{
	uint64_t ssa_lin = 0;
	void *tcs, *ssa;
	int ret;

	*fault_addr = tcs_lin;
	if (translate(e, tcs_lin, refresh, &tcs))
		return ENCLS_PF;
	ret = enclu_ssa_linaddr(sgxrt__cpu, tcs, tcs_lin, resume, &ssa_lin);
	if (ret)
		return ret;
	*fault_addr = ssa_lin;
	if (ssa_lin < e->base || ssa_lin - e->base >= e->size || translate(e, ssa_lin, refresh, &ssa))
		return ENCLS_PF;
	*fault_addr = tcs_lin;
	if (resume)
		return enclu_eresume(sgxrt__cpu, &t->cpu, tcs, tcs_lin, ssa, aep, entry);
	return enclu_eenter(sgxrt__cpu, &t->cpu, tcs, tcs_lin, ssa, aep, ursp, urbp, entry);
}

int sgxrt__enter_leaf(struct sgxrt_thread *t, struct sgxrt_enclave *e, bool resume,
		      uint64_t tcs_lin, uint64_t aep, uint64_t ursp, uint64_t urbp,
		      struct sgx_enclu_entry *entry, uint64_t *fault_addr)
{
	int ret = ENCLS_GP;

	for (int i = 0; i < ENTRY_TRIES; i++) {
		ret = enter_once(t, e, resume, tcs_lin, aep, ursp, urbp, i > 0, entry, fault_addr);
		/* A #PF may be a stale translation: walk again. */
		if (ret != ENCLS_PF)
			break;
	}
	return ret;
}

struct sgxrt_thread *sgxrt__thread_self(void)
{
	return thread_self();
}

uint64_t sgxrt__enclave_sigmask(void)
{
	return enclave_sigmask();
}

/* SDM, EENTER: RFLAGS as the caller had it, TF aside. */
#define RFLAGS_USER 0x244dd5ULL /* CF PF AF ZF SF TF DF OF AC ID */
#define RFLAGS_FIXED 0x202ULL /* bit 1 and IF */

struct sgxrt_thread *sgxrt__enclu(struct sgxrt_gprs *g)
{
	struct sgxrt_thread *t = thread_self();
	struct sgx_enclu_entry entry;
	struct sgxrt_iframe *f;
	struct sgxrt_enclave *e;
	bool resume = g->rax == ERESUME;
	uint64_t fault_addr = g->rbx;
	int ret = ENCLS_GP;

	if (!t)
		return NULL;
	f = &t->frame;
	if (!sgxrt__cpu || (g->rax != EENTER && g->rax != ERESUME)) {
		frame_fault(t, g, ENCLS_GP, 0);
		return t;
	}
	e = sgxrt__enclave_at(g->rbx);
	if (!e) {
		frame_fault(t, g, ENCLS_PF, g->rbx);
		return t;
	}
	/* The enclave first: a kick finds the thread by it as soon as the
	 * state says it may be inside (sgxrt_kick_enclave()). */
	atomic_store(&t->encl, e);
	atomic_store(&t->kicked, 0);
	atomic_store(&t->state, RT_ENTERING);
	atomic_signal_fence(memory_order_seq_cst);
	ret = sgxrt__enter_leaf(t, e, resume, g->rbx, g->rcx,
				(uint64_t)(uintptr_t)(&g->next_rip + 1), g->rbp, &entry, &fault_addr);
	if (ret) {
		atomic_store(&t->state, RT_OUTSIDE);
		atomic_store(&t->encl, NULL);
		frame_fault(t, g, ret, fault_addr);
		return t;
	}
	atomic_fetch_add_explicit(resume ? &sgxrt__counts.eresumes : &sgxrt__counts.eenters, 1,
				  memory_order_relaxed);

	if (resume) {
		const struct sgx_gprsgx *s = &entry.gprs;

		f->rax = s->rax;
		f->rbx = s->rbx;
		f->rcx = s->rcx;
		f->rdx = s->rdx;
		f->rsi = s->rsi;
		f->rdi = s->rdi;
		f->rbp = s->rbp;
		f->r8 = s->r8;
		f->r9 = s->r9;
		f->r10 = s->r10;
		f->r11 = s->r11;
		f->r12 = s->r12;
		f->r13 = s->r13;
		f->r14 = s->r14;
		f->r15 = s->r15;
		f->rsp = s->rsp;
		f->rflags = (s->rflags & RFLAGS_USER) | RFLAGS_FIXED;
		t->fx_valid = entry.fxsave_valid;
		if (entry.fxsave_valid)
			memcpy(t->fxsave, entry.fxsave, sizeof(t->fxsave));
	} else {
		/* EENTER: RAX = CSSA, RBX = TCS, RCX = the address after
		 * ENCLU; every other register as the caller left it. */
		memcpy(f, g, 15 * sizeof(uint64_t));
		f->rax = entry.cssa;
		f->rcx = g->next_rip;
		f->rsp = (uint64_t)(uintptr_t)(&g->next_rip + 1);
		f->rflags = (g->rflags & RFLAGS_USER & ~0x100ULL) | RFLAGS_FIXED;
		t->fx_valid = 0;
	}
	f->rip = entry.rip;
	f->cs = read_cs();
	f->ss = read_ss();
	t->fsbase = entry.fsbase;
	t->gsbase = entry.gsbase;

	/* The program's asynchronous signals wait outside; the saved mask
	 * comes back at the exit (exception.c puts it in the ucontext). */
	sigmask_swap(enclave_sigmask(), &t->saved_mask);
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store(&t->state, RT_INSIDE);
	atomic_signal_fence(memory_order_seq_cst);
	if (atomic_load(&t->kicked)) {
		/* A kick came during the bookkeeping: the interrupt is taken
		 * at the enclave's first instruction. */
		struct sgx_gprsgx state;
		struct sgx_enclu_event ev = { .vector = -1 };
		struct sgxrt_iframe out;

		memset(&state, 0, sizeof(state));
		state.rax = f->rax, state.rbx = f->rbx, state.rcx = f->rcx, state.rdx = f->rdx;
		state.rsi = f->rsi, state.rdi = f->rdi, state.rbp = f->rbp, state.rsp = f->rsp;
		state.r8 = f->r8, state.r9 = f->r9, state.r10 = f->r10, state.r11 = f->r11;
		state.r12 = f->r12, state.r13 = f->r13, state.r14 = f->r14, state.r15 = f->r15;
		state.rip = f->rip;
		state.rflags = f->rflags;
		state.fsbase = t->fsbase;
		state.gsbase = t->gsbase;
		sigmask_swap(t->saved_mask, NULL);
		sgxrt__aex(t, &state, &ev, 0, &out);
		*f = out;
		t->fsbase = t->host_fs;
		t->gsbase = t->host_gs;
		t->fx_valid = 0;
	}
	return t;
}

/* --- Kicks -------------------------------------------------------------- */

int sgxrt_kick_enclave(struct sgxrt_enclave *e)
{
	pid_t pid = getpid();
	int n = 0;

	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		int tid = atomic_load_explicit(&thread_table[i].tid, memory_order_acquire);
		struct sgxrt_thread *t;

		if (tid <= 0)
			continue;
		t = atomic_load_explicit(&thread_table[i].t, memory_order_relaxed);
		if (!t || atomic_load(&t->state) == RT_OUTSIDE || t->encl != e)
			continue;
		if (syscall(SYS_tgkill, pid, tid, sgxrt__kick_signo()) == 0)
			n++;
	}
	return n;
}

int sgxrt_kick_signal(void)
{
	return sgxrt__kick_signo();
}

void sgxrt_stats(struct sgxrt_stats *st)
{
	st->eenters = atomic_load(&sgxrt__counts.eenters);
	st->eresumes = atomic_load(&sgxrt__counts.eresumes);
	st->eexits = atomic_load(&sgxrt__counts.eexits);
	st->aexs = atomic_load(&sgxrt__counts.aexs);
	st->kicks = atomic_load(&sgxrt__counts.kicks);
	st->ereports = atomic_load(&sgxrt__counts.ereports);
	st->egetkeys = atomic_load(&sgxrt__counts.egetkeys);
}
