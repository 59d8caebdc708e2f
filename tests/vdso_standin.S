/*
 * vdso_standin.S: a library named linux-vdso.so.1 that exports
 * __vdso_sgx_enter_enclave in LINUX_2.6, only to be linked against (as
 * Fortanix's fake-vdso is): at run time the dynamic linker takes the
 * kernel's vDSO for that name and never loads this file.  Its function
 * fails with -ENOSYS, should it ever run.
 */
	.text
	.globl __vdso_sgx_enter_enclave
	.type __vdso_sgx_enter_enclave, @function
__vdso_sgx_enter_enclave:
	mov	$-38, %eax
	ret
	.size __vdso_sgx_enter_enclave, . - __vdso_sgx_enter_enclave
	.section .note.GNU-stack, "", @progbits
