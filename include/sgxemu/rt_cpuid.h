/*
 * rt_cpuid.h: CPUID as an SGX machine of the emulated model answers it,
 * and the detection files the kernel of such a machine shows.
 *
 * Loaders read CPUID natively: Intel's runtime wants leaf 7's SGX bit and
 * leaf 0x12 before it loads anything, Enarx wants SGX1, SGX2, FLC and the
 * EPC sections.  Where the host offers CPUID faulting
 * (arch_prctl(ARCH_SET_CPUID, 0)), every CPUID of an armed thread raises
 * #GP, which arrives as SIGSEGV (SI_KERNEL) at its 0F A2; the runtime's
 * handler (exception.c) then answers:
 *
 *   leaf 0             the host's, with EAX (the highest basic leaf) at
 *                      least 0x12, so that a program that checks the
 *                      range before it asks for leaf 0x12 asks for it;
 *   leaf 7, sub-leaf 0 the host's, with EBX bit 2 (SGX) and ECX bit 30
 *                      (SGX_LC, launch configuration) set;
 *   leaf 0x12          every sub-leaf from the model (sgx_cpu_cpuid():
 *                      0 SGX1/SGX2, MISCSELECT and the largest enclaves,
 *                      1 the valid SECS.ATTRIBUTES and XFRM bits, 2 and up
 *                      the EPC sections, then sub-leaves of type 0);
 *   every other leaf   the host's (the handler lifts faulting on its own
 *                      thread for one real CPUID, then arms it again).
 *
 * Faulting is a property of each thread: the one that arms it, and every
 * thread and process it starts afterwards (clone and fork keep it); execve
 * turns it off, so a new program arms it again.  Threads that already run
 * are not armed.
 *
 * Inside an enclave CPUID is an illegal instruction (SDM Vol. 3D, 37.6.1):
 * with faulting armed it makes an AEX with #UD there.
 */
#ifndef SGXEMU_RT_CPUID_H
#define SGXEMU_RT_CPUID_H

#include <stddef.h>
#include <stdint.h>

#include "sgxemu/cpu.h"

/* Answers CPUID from cpu's model on the calling thread and those it
 * starts later, installing the runtime's handlers (sgxrt_enclu_init(cpu))
 * first.  The model's leaf 0x12 is copied now: cpu may go away later.
 * 0; -ENODEV when the host cannot fault CPUID (the program then sees the
 * host's CPUID, without SGX); -EINVAL for a NULL cpu, or one other than
 * the runtime's; -errno of rt_sigaction. */
int sgxrt_cpuid_install(struct sgx_cpu *cpu);

/* One line for the error of sgxrt_cpuid_install(), for the command line
 * tool to print (once). */
const char *sgxrt_cpuid_strerror(int err);

/* What the runtime answers for CPUID (leaf, subleaf) once installed, as
 * {eax, ebx, ecx, edx}; before, the host's.  Async-signal-safe. */
void sgxrt_cpuid_answer(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);

/*
 * /proc/cpuinfo as the kernel of such a machine prints it: host (len
 * bytes, the host's text) with "sgx" added to every "flags" line, and
 * "sgx_lc" when the model's launch control is writable (the kernel clears
 * it when the firmware locked it: feat_ctl.c), each where the kernel
 * prints it (flags go in the order of their feature bits: "sgx" after
 * fsgsbase and tsc_adjust, the rest of CPUID.7.0:EBX after it; "sgx_lc"
 * after the rest of CPUID.7.0:ECX); a flag already there is not added
 * again.  Like snprintf(): the length of the whole text is returned, at
 * most size - 1 bytes of it are written, and a NUL when size > 0.  The
 * text grows by at most 11 bytes per flags line.
 */
size_t sgxrt_cpuinfo_text(const struct sgx_cpu *cpu, const char *host, size_t len, char *out,
			  size_t size);

/*
 * /sys/devices/system/node/node<nid>/x86/sgx_total_bytes: the bytes of
 * EPC the model's sections give node nid, as "%lu\n" (0 for a node
 * without EPC, as the kernel shows it on every node; a section whose
 * node is out of range counts for node 0, as the SGX core places it).
 * The length written (NUL-terminated), -EINVAL for nid outside
 * 0..SGX_EPC_MAX_NID-1, -ENOSPC for a buffer too small.
 */
int sgxrt_sgx_total_bytes_text(const struct sgx_cpu *cpu, int nid, char *out, size_t size);

#endif /* SGXEMU_RT_CPUID_H */
