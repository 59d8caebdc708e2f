/*
 * enter.S: the runtime's enter function (the vDSO's
 * __vdso_sgx_enter_enclave, same ABI and same control flow), the path
 * that loads an enclave thread's registers, and the entry of every signal
 * handler the runtime installs.
 *
 * Where the vDSO executes ENCLU (EENTER, ERESUME, and the AEP, which is
 * the same instruction), this calls sgxrt__enclu_site: it saves every
 * register, lets enclu.c do the processor's part, and then starts the
 * frame enclu.c left in the thread's state (sgxrt__resume_frame), with an
 * iretq, which sets RIP, RFLAGS and RSP at once without touching the
 * target's stack.  The enclave's EEXIT returns to the address after that
 * call, as EEXIT returns to the instruction after the vDSO's ENCLU.
 *
 * Signal entry: a signal may come while FS and GS hold an enclave's bases,
 * and the C library (or a sanitizer) reaches its TLS through FS.  So
 * sgxrt__sig_entry saves FS and GS, finds the thread's state by its id
 * (a system call and a table, no TLS), loads the host's bases, runs the C
 * handler, and puts back the bases the C handler leaves in its slots (the
 * enclave's when it returns into the enclave, the host's after an EEXIT
 * or AEX).
 */
#include "runtime/enclu_internal.h"

#define RUN_FUNCTION 8
#define RUN_VECTOR 12
#define RUN_ERROR_CODE 14
#define RUN_ADDR 16
#define RUN_USER_HANDLER 24
#define RUN_RESERVED 40
#define RUN_SIZE 256

#define SYS_arch_prctl 158
#define SYS_gettid 186
#define SYS_rt_sigreturn 15
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

	.text

	.globl sgxrt_enter_enclave
	.type sgxrt_enter_enclave, @function
	/* The vDSO's name too, for the dynamic linker to bind a program's
	 * weak reference to (rt_vdso.h). */
	.globl __vdso_sgx_enter_enclave
	.type __vdso_sgx_enter_enclave, @function
sgxrt_enter_enclave:
__vdso_sgx_enter_enclave:
	.cfi_startproc
	push	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	push	%rbx
	.cfi_rel_offset %rbx, -8
	mov	%ecx, %eax
.Lenter_enclave:
	/* EENTER <= function <= ERESUME. */
	cmp	$2, %eax
	jb	.Linvalid
	cmp	$3, %eax
	ja	.Linvalid
	mov	16(%rbp), %rcx
	/* The reserved area must be zero. */
	mov	$RUN_RESERVED, %rbx
1:	cmpq	$0, (%rcx, %rbx)
	jne	.Linvalid
	add	$8, %rbx
	cmp	$RUN_SIZE, %rbx
	jne	1b
	/* TCS and AEP. */
	mov	(%rcx), %rbx
	lea	sgxrt__aep(%rip), %rcx
	/* The one "ENCLU": EENTER or ERESUME, and the AEP. */
	.globl sgxrt__aep
	.hidden sgxrt__aep
sgxrt__aep:
	call	sgxrt__enclu_site
	/* EEXIT comes back here. */
	mov	16(%rbp), %rbx
	movl	$4, RUN_FUNCTION(%rbx)
.Lhandle_exit:
	cmpq	$0, RUN_USER_HANDLER(%rbx)
	jne	.Linvoke_user_handler
	xor	%eax, %eax
.Lout:
	mov	-8(%rbp), %rbx
	leave
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_def_cfa %rbp, 16
.Linvalid:
	mov	$-22, %eax
	jmp	.Lout

	.globl sgxrt__enomem_exit
	.hidden sgxrt__enomem_exit
sgxrt__enomem_exit:
	mov	$-12, %eax
	jmp	.Lout

	/* The exception exit: RAX the leaf, RDI the vector, RSI the error
	 * code, RDX the address (what the kernel's fixup hands the vDSO). */
	.globl sgxrt__handle_exception
	.hidden sgxrt__handle_exception
sgxrt__handle_exception:
	mov	16(%rbp), %rbx
	mov	%eax, RUN_FUNCTION(%rbx)
	mov	%di, RUN_VECTOR(%rbx)
	mov	%si, RUN_ERROR_CODE(%rbx)
	mov	%rdx, RUN_ADDR(%rbx)
	jmp	.Lhandle_exit

.Linvoke_user_handler:
	/* The untrusted RSP at the exit goes to the handler in RCX. */
	mov	%rsp, %rcx
	mov	%rbx, %rax
	/* Keep RSP's misalignment in RBX (callee-saved) to undo it. */
	mov	%rsp, %rbx
	and	$0xf, %rbx
	and	$-0x10, %rsp
	/* The run structure as the 7th argument, aligned by the extra push. */
	push	%rax
	push	%rax
	cld
	mov	RUN_USER_HANDLER(%rax), %rax
	lfence
	call	*%rax
	lea	0x10(%rsp, %rbx), %rsp
	/* 0 or negative: return it; positive: the next leaf. */
	cmp	$0, %eax
	jle	.Lout
	jmp	.Lenter_enclave
	.cfi_endproc
	.size sgxrt_enter_enclave, . - sgxrt_enter_enclave
	.size __vdso_sgx_enter_enclave, . - sgxrt_enter_enclave

/* sgxrt_enter_enclave() for C callers: R12-R15 kept around it. */
	.globl sgxrt_enter_enclave_c
	.type sgxrt_enter_enclave_c, @function
sgxrt_enter_enclave_c:
	.cfi_startproc
	push	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	pushq	16(%rbp)
	call	sgxrt_enter_enclave
	add	$8, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size sgxrt_enter_enclave_c, . - sgxrt_enter_enclave_c

/*
 * The ENCLU of the enter function: every register as it is here goes to
 * sgxrt__enclu() (struct sgxrt_gprs), which returns the thread whose
 * frame to start, or NULL when it could not make the thread's state.
 */
	.type sgxrt__enclu_site, @function
sgxrt__enclu_site:
	pushfq
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%r11
	push	%r10
	push	%r9
	push	%r8
	push	%rbp
	push	%rdi
	push	%rsi
	push	%rdx
	push	%rcx
	push	%rbx
	push	%rax
	mov	%rsp, %rdi
	mov	%rsp, %r12
	and	$-16, %rsp
	call	sgxrt__enclu
	test	%rax, %rax
	jz	1f
	mov	%rax, %rdi
	jmp	sgxrt__resume_frame
1:	mov	%r12, %rsp
	pop	%rax
	pop	%rbx
	pop	%rcx
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%rbp
	pop	%r8
	pop	%r9
	pop	%r10
	pop	%r11
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	popfq
	add	$8, %rsp
	jmp	sgxrt__enomem_exit
	.size sgxrt__enclu_site, . - sgxrt__enclu_site

/*
 * Starts the frame of the thread state in RDI: FS and GS, the x87/SSE
 * state if any, then every GPR and, by iretq, RIP, RFLAGS and RSP.  A
 * signal between here and the iretq finds the frame intact in the
 * thread's state (exception.c takes it from there).
 */
	.globl sgxrt__resume_frame
	.hidden sgxrt__resume_frame
	.type sgxrt__resume_frame, @function
sgxrt__resume_frame:
	mov	%rdi, %r12
	mov	T_FSBASE(%r12), %rdi
	call	sgxrt__wrfs
	mov	T_GSBASE(%r12), %rdi
	call	sgxrt__wrgs
	cmpb	$0, T_FX_VALID(%r12)
	je	1f
	fxrstor64 T_FXSAVE(%r12)
1:	lea	T_FRAME(%r12), %rsp
	.globl sgxrt__window_start
	.hidden sgxrt__window_start
sgxrt__window_start:
	pop	%rax
	pop	%rbx
	pop	%rcx
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%rbp
	pop	%r8
	pop	%r9
	pop	%r10
	pop	%r11
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	iretq
	.globl sgxrt__window_end
	.hidden sgxrt__window_end
sgxrt__window_end:
	.size sgxrt__resume_frame, . - sgxrt__resume_frame

/* FS and GS bases: the instructions when the kernel enables them
 * (HWCAP2_FSGSBASE), else arch_prctl.  Clobber only RAX, RCX, RSI, R11. */
	.globl sgxrt__wrfs
	.hidden sgxrt__wrfs
sgxrt__wrfs:
	cmpl	$0, sgxrt__fsgsbase(%rip)
	je	1f
	wrfsbase %rdi
	ret
1:	mov	%rdi, %rsi
	push	%rdi
	mov	$ARCH_SET_FS, %edi
	mov	$SYS_arch_prctl, %eax
	syscall
	pop	%rdi
	ret

	.globl sgxrt__wrgs
	.hidden sgxrt__wrgs
sgxrt__wrgs:
	cmpl	$0, sgxrt__fsgsbase(%rip)
	je	1f
	wrgsbase %rdi
	ret
1:	mov	%rdi, %rsi
	push	%rdi
	mov	$ARCH_SET_GS, %edi
	mov	$SYS_arch_prctl, %eax
	syscall
	pop	%rdi
	ret

	.globl sgxrt__rdfs
	.hidden sgxrt__rdfs
sgxrt__rdfs:
	cmpl	$0, sgxrt__fsgsbase(%rip)
	je	1f
	rdfsbase %rax
	ret
1:	push	%rdi
	sub	$8, %rsp
	mov	$ARCH_GET_FS, %edi
	mov	%rsp, %rsi
	mov	$SYS_arch_prctl, %eax
	syscall
	mov	(%rsp), %rax
	add	$8, %rsp
	pop	%rdi
	ret

	.globl sgxrt__rdgs
	.hidden sgxrt__rdgs
sgxrt__rdgs:
	cmpl	$0, sgxrt__fsgsbase(%rip)
	je	1f
	rdgsbase %rax
	ret
1:	push	%rdi
	sub	$8, %rsp
	mov	$ARCH_GET_GS, %edi
	mov	%rsp, %rsi
	mov	$SYS_arch_prctl, %eax
	syscall
	mov	(%rsp), %rax
	add	$8, %rsp
	pop	%rdi
	ret

/*
 * Every signal the runtime handles enters here (rt_sigaction's handler,
 * SA_SIGINFO): RDI signo, RSI siginfo, RDX ucontext.
 */
	.globl sgxrt__sig_entry
	.hidden sgxrt__sig_entry
	.type sgxrt__sig_entry, @function
sgxrt__sig_entry:
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rbp
	sub	$24, %rsp		/* 0: FS, 8: GS; RSP 16-aligned */
	mov	%edi, %r12d
	mov	%rsi, %r13
	mov	%rdx, %r14
	call	sgxrt__rdfs
	mov	%rax, 0(%rsp)
	call	sgxrt__rdgs
	mov	%rax, 8(%rsp)
	mov	$SYS_gettid, %eax
	syscall
	mov	%eax, %edi
	call	sgxrt__thread_of_tid
	mov	%rax, %r15
	test	%rax, %rax
	jz	1f
	mov	T_HOST_FS(%r15), %rdi
	call	sgxrt__wrfs
	mov	T_HOST_GS(%r15), %rdi
	call	sgxrt__wrgs
1:	mov	%r12d, %edi
	mov	%r13, %rsi
	mov	%r14, %rdx
	mov	%r15, %rcx
	mov	%rsp, %r8
	call	sgxrt__signal
	/* Always: a thread's first entry (a program's own EENTER) may come
	 * with no state found above. */
	mov	0(%rsp), %rdi
	call	sgxrt__wrfs
	mov	8(%rsp), %rdi
	call	sgxrt__wrgs
	add	$24, %rsp
	pop	%rbp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	ret
	.size sgxrt__sig_entry, . - sgxrt__sig_entry

	.globl sgxrt__sig_restorer
	.hidden sgxrt__sig_restorer
sgxrt__sig_restorer:
	mov	$SYS_rt_sigreturn, %eax
	syscall
	ud2

	.section .note.GNU-stack, "", @progbits
