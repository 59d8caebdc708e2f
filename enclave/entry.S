/*
 * entry.S: the sample enclave's thread layout (TCS pages, SSA frames,
 * thread control blocks, stacks) and its entry point.
 *
 * Everything here is position independent: the image is linked at 0 and
 * runs at whatever base the enclave gets, so the TCS fields are written as
 * differences of symbols (link-time constants) and the code reaches its
 * data RIP-relative.  No dynamic relocation may result; the build fails if
 * one does.
 *
 * Entry ABI (EENTER lands at enclave_entry = every TCS's OENTRY)
 * ----------------------------------------------------------------
 * In, set by EENTER:
 *   RAX  CSSA of the TCS.  0: a normal call.  > 0: an exception-handler
 *        entry after an AEX; see below.
 *   RBX  linear address of the TCS used.
 *   RCX  address of the instruction after EENTER: where EEXIT goes back.
 * In, set by the caller:
 *   RDI  operation (SAMPLE_OP_* in sample_abi.h)
 *   RSI  a1
 *   RDX  a2
 *   R8   a3
 *   RSP, RBP  the caller's (untrusted) stack; preserved.
 *   Other registers are ignored.  RFLAGS.DF and AC are cleared inside.
 *
 * Out, at EEXIT (ENCLU leaf 4):
 *   RAX  4 (EEXIT)
 *   RBX  the exit address: RCX as it was at entry
 *   RCX  the AEP (written by EEXIT itself)
 *   RDX  the result: enclave_main()'s return value, SAMPLE_EXCEPTION_ENTRY
 *        (-2) for an exception-handler entry, SAMPLE_BAD_TCS (-3) if RBX
 *        was not one of this image's TCS pages
 *   RSP, RBP, R12-R15  the caller's values (RSP and RBP saved on the
 *        enclave stack and restored; R12-R15 preserved by enclave_main()
 *        as the SysV ABI requires of any C function)
 *   RDI, RSI, R8-R11   zero (they may have held enclave data)
 *   Vector registers are never used by the enclave (-mgeneral-regs-only),
 *   so they hold the caller's values.
 *
 * Exception-handler entry (CSSA > 0): the interrupted call's state is in
 * SSA frame CSSA-1 and its stack frame is live on the enclave stack, so
 * this path touches neither: it exits at once with RDX = -2 and RSP/RBP as
 * they came in.  The host may then ERESUME the interrupted call.
 *
 * Only SAMPLE_OP_TLS reads FS and GS (it checks that EENTER loaded their
 * bases from OFSBASE/OGSBASE); every other operation works without them.
 */
#include "sample_abi.h"

/* Field offsets of struct sgx_tcs (arch.h); sample.c checks they agree. */
#define TCS_SIZE 4096
#define TCS_FIXED_SIZE 72 /* STATE .. GSLIMIT; the rest is reserved */

#define ENCLU .byte 0x0f, 0x01, 0xd7
#define EEXIT_LEAF 4

/*
 * One TCS page.  Every offset is "symbol - sample_tcs": sample_tcs is in
 * this section and sits at the enclave base (the linker script asserts
 * it), so the assembler turns each into a PC-relative link-time constant.
 */
.macro tcs_page idx
	.quad 0					/* STATE */
	.quad 0					/* FLAGS */
	.quad sample_ssa + \idx * SAMPLE_NSSA * SAMPLE_SSA_FRAME_PAGES * SAMPLE_PAGE_SIZE - sample_tcs /* OSSA */
	.long 0					/* CSSA */
	.long SAMPLE_NSSA			/* NSSA */
	.quad enclave_entry - sample_tcs	/* OENTRY */
	.quad 0					/* AEP, set by EENTER */
	.quad sample_tcb + \idx * SAMPLE_PAGE_SIZE - sample_tcs /* OFSBASE */
	.quad sample_tcb + \idx * SAMPLE_PAGE_SIZE - sample_tcs /* OGSBASE */
	.long SAMPLE_SEG_LIMIT			/* FSLIMIT */
	.long SAMPLE_SEG_LIMIT			/* GSLIMIT */
	.fill TCS_SIZE - TCS_FIXED_SIZE, 1, 0	/* reserved */
.endm

/* One thread control block page: struct sample_tcb, then zeros. */
.macro tcb_page idx
	.quad SAMPLE_TCB_MAGIC			/* magic */
	.quad \idx				/* index */
	.quad 0					/* nr_calls */
	.quad 0					/* tls_value */
	.fill SAMPLE_PAGE_SIZE - 32, 1, 0
.endm

/* Expands "\page i" for i = from .. to-1. */
.macro pages page, from, to
	\page \from
	.if \to - (\from) - 1
	pages \page, "(\from + 1)", \to
	.endif
.endm

	.section .enclave.tcs, "aw", @progbits
	.balign SAMPLE_PAGE_SIZE
	.globl sample_tcs
	.hidden sample_tcs
sample_tcs:
	pages tcs_page, 0, SAMPLE_NR_TCS

/* SSA frames: SAMPLE_NSSA frames per TCS, TCS 0's first. */
	.section .enclave.ssa, "aw", @progbits
	.balign SAMPLE_PAGE_SIZE
	.globl sample_ssa
	.hidden sample_ssa
sample_ssa:
	.fill SAMPLE_NR_TCS * SAMPLE_NSSA * SAMPLE_SSA_FRAME_PAGES * SAMPLE_PAGE_SIZE, 1, 0

/* Thread control blocks: one page per TCS, struct sample_tcb first. */
	.section .enclave.tcb, "aw", @progbits
	.balign SAMPLE_PAGE_SIZE
	.globl sample_tcb
	.hidden sample_tcb
sample_tcb:
	pages tcb_page, 0, SAMPLE_NR_TCS

/* Stacks: TCS i's stack is [sample_stacks + i * SIZE, + (i + 1) * SIZE). */
	.section .enclave.stack, "aw", @progbits
	.balign SAMPLE_PAGE_SIZE
	.globl sample_stacks
	.hidden sample_stacks
sample_stacks:
	.fill SAMPLE_NR_TCS * SAMPLE_STACK_SIZE, 1, 0

	.text
	.globl enclave_entry
	.type enclave_entry, @function
enclave_entry:
	/* CSSA > 0: exception-handler entry; leave the live frame alone. */
	test	%rax, %rax
	jnz	.Lhandler_entry

	/* TCS index = (RBX - base) / 4096, checked against the image. */
	lea	sample_tcs(%rip), %r10
	mov	%rbx, %r11
	sub	%r10, %r11
	test	$(TCS_SIZE - 1), %r11
	jnz	.Lbad_tcs
	cmp	$(SAMPLE_NR_TCS * TCS_SIZE), %r11
	jae	.Lbad_tcs
	shr	$12, %r11

	/* Top of this TCS's stack: sample_stacks + (index + 1) * SIZE. */
	lea	1(%r11), %r10
	imul	$SAMPLE_STACK_SIZE, %r10, %r10
	lea	sample_stacks(%rip), %rax
	add	%rax, %r10

	/* Switch stacks; save what the caller gets back. */
	mov	%rsp, %rax
	mov	%r10, %rsp
	push	%rax			/* untrusted RSP */
	push	%rbp			/* untrusted RBP */
	push	%rcx			/* exit address */
	push	%r11			/* TCS index; keeps RSP 16-aligned */
	xor	%ebp, %ebp

	/* Known flags for C: DF and AC clear. */
	cld
	pushfq
	andq	$~(1 << 18), (%rsp)
	popfq

	/* enclave_main(op = RDI, a1 = RSI, a2 = RDX, a3 = R8); being a C
	 * function it preserves RBX, RBP and R12-R15 (the SysV ABI). */
	mov	%r8, %rcx
	call	enclave_main
	mov	%rax, %rdx

	pop	%r11
	pop	%rbx			/* exit address */
	pop	%rbp
	pop	%rsp			/* back on the untrusted stack */
	jmp	.Leexit

.Lhandler_entry:
	mov	$SAMPLE_EXCEPTION_ENTRY, %rdx
	mov	%rcx, %rbx
	jmp	.Leexit

.Lbad_tcs:
	mov	$SAMPLE_BAD_TCS, %rdx
	mov	%rcx, %rbx

	/* RBX = exit address, RDX = result; clear the rest and leave. */
.Leexit:
	xor	%ecx, %ecx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	mov	$EEXIT_LEAF, %eax
	ENCLU
	ud2				/* EEXIT does not come back */
	.size enclave_entry, . - enclave_entry

	.section .note.GNU-stack, "", @progbits
