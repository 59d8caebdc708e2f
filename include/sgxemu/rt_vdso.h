/*
 * rt_vdso.h: the vDSO image the runtime shows loaders.
 *
 * Loaders find the kernel's __vdso_sgx_enter_enclave in the vDSO: by
 * getauxval(AT_SYSINFO_EHDR) and then DT_HASH, DT_GNU_HASH or the section
 * headers (.dynsym and .dynstr), by the auxiliary vector on the stack
 * after environ, or by the dynamic linker binding a weak reference.  The
 * host's vDSO has no such symbol (no SGX in its kernel), so the runtime
 * builds a shared-object image of its own that has every symbol the
 * host's vDSO exports, with its type, binding and version, each a stub
 * that jumps to the host's function (whose code reads its own vvar pages,
 * so it must run where the kernel mapped it), and __vdso_sgx_enter_enclave
 * (version LINUX_2.6, as the kernel's vdso.lds.S exports it), a stub that
 * jumps to sgxrt_enter_enclave() with every register and the stack
 * untouched, so the seventh argument stays at 8(%rsp).
 *
 * sgxrt_vdso_install() makes the process see the image: the
 * AT_SYSINFO_EHDR entry of the auxiliary vector on the stack (which glibc's
 * getauxval() and every walk from environ read) is rewritten to point at
 * it.  What user space cannot change, and what stands in for it:
 *
 *   /proc/self/auxv   the kernel's saved copy (mm->saved_auxv); only
 *                     prctl(PR_SET_MM_AUXV) with CAP_SYS_RESOURCE writes
 *                     it.  Kept: the interception of opens serves it.
 *   the dynamic linker's link map of linux-vdso.so.1 (glibc's
 *                     GLRO(dl_sysinfo_dso), built before any constructor):
 *                     dlsym() on it and dl_iterate_phdr() still show the
 *                     host's vDSO, and glibc's own clock_gettime() keeps
 *                     calling the host's, which is right.  A weak
 *                     reference to __vdso_sgx_enter_enclave binds instead
 *                     to the runtime's exported definition of that name
 *                     (enter.S), which the dynamic linker finds first in
 *                     the global scope (the program, or the preloaded
 *                     runtime).
 *   constructors that ran before install (a library the program needs
 *                     runs its constructors before a preloaded one's):
 *                     they saw the host's vDSO.  A preloaded getauxval()
 *                     that returns sgxrt_vdso_getauxval() reaches them,
 *                     since that installs the image on first use.
 *   the [vdso] line of /proc/self/maps stays the host's; the image is an
 *                     anonymous mapping named "sgxemu-vdso" where the
 *                     kernel names anonymous mappings.
 *
 * After fork the child has the image and the rewritten entry; execve
 * starts from the kernel's vector again.
 */
#ifndef SGXEMU_RT_VDSO_H
#define SGXEMU_RT_VDSO_H

#include <stddef.h>

/* Builds the image from the host's vDSO and points the stack's
 * AT_SYSINFO_EHDR at it.  Idempotent and thread-safe.  0; -ENOENT when
 * the process has no vDSO (AT_SYSINFO_EHDR absent) or its auxiliary vector
 * cannot be found on the stack; -ENOEXEC when the host's vDSO is not an
 * ELF image this parser reads (too many symbols or versions, or tables
 * outside it); -ENOTSUP when getauxval() does not see the rewritten entry;
 * -ENOMEM. */
int sgxrt_vdso_install(void);

/* The image (and its size), or NULL before sgxrt_vdso_install(). */
const void *sgxrt_vdso_image(size_t *size);

/* The host's vDSO (the kernel's AT_SYSINFO_EHDR), or NULL. */
const void *sgxrt_vdso_host(void);

/* getauxval() with the image in AT_SYSINFO_EHDR, installed on first use
 * (the host's value if that fails): what a preloaded getauxval() returns,
 * so that constructors that run before the runtime's see the image too. */
unsigned long sgxrt_vdso_getauxval(unsigned long type);

/* Builds an image from the vDSO at host whose __vdso_sgx_enter_enclave
 * jumps to enter, mapped read-only and executable at *image (size bytes).
 * For tests and for sgxrt_vdso_install().  Errors as above. */
int sgxrt_vdso_build(const void *host, const void *enter, void **image, size_t *size);

#endif /* SGXEMU_RT_VDSO_H */
