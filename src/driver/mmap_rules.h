/*
 * mmap_rules.h: the enclave device's rules for mappings (the kernel's
 * sgx_mmap(), sgx_encl_may_map(), sgx_vma_mprotect() and the mremap
 * checks VM_DONTEXPAND makes), as pure functions of the request and the
 * enclave, so that the machine applies them and a test holds each row.
 *
 * Addresses are the client's virtual addresses; the enclave's pages are
 * found by address (page at base + offset), never by the file offset,
 * which the kernel ignores.
 */
#ifndef SGXEMU_DRIVER_MMAP_RULES_H
#define SGXEMU_DRIVER_MMAP_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "sgxemu/encl.h"

/* Linux's READ_IMPLIES_EXEC personality bit (linux/personality.h). */
#define SGX_READ_IMPLIES_EXEC 0x0400000UL

/*
 * The mmap flags an enclave handle takes: a shared mapping (MAP_SHARED or
 * MAP_SHARED_VALIDATE), else -EINVAL; and len not zero (-EINVAL, as
 * mmap(2) itself).  0 or -EINVAL.
 */
int sgx_mmap_check_flags(uint64_t len, unsigned long flags);

/*
 * The kernel's sgx_encl_may_map() for a mapping [start, end) with
 * protection prot (PROT_* bits) made by a process of the given
 * personality: -EACCES when the enclave is initialized and the range is
 * not inside [base, base + size); -EACCES for a READ_IMPLIES_EXEC
 * process; -EACCES when a page added in the range has maximum
 * permissions without a bit of prot.  encl NULL (no CREATE yet) allows
 * every range.  The same rule holds for mprotect (the new protection).
 * 0 or -EACCES (-EINVAL for end <= start).
 */
int sgx_encl_may_map(struct sgx_encl *encl, uint64_t start, uint64_t end, unsigned int prot,
		     unsigned long personality);

/*
 * mremap of an enclave mapping (VM_DONTEXPAND): growing it is refused
 * with -EFAULT as the kernel's vma_to_resize() refuses it; shrinking and
 * keeping the size are allowed; a move (MREMAP_MAYMOVE that would have to
 * move, MREMAP_FIXED, MREMAP_DONTUNMAP) is refused with -EINVAL here,
 * because a moved mapping would show other pages of the enclave (pages
 * follow the address).  0, -EFAULT or -EINVAL.
 */
int sgx_mremap_check(uint64_t old_len, uint64_t new_len, unsigned long flags);

#endif /* SGXEMU_DRIVER_MMAP_RULES_H */
