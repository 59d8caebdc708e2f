/*
 * view.h: application views of an enclave, the seed of the address-space
 * (mm) tracking: each view is one mapping of the enclave's contents object
 * in this process, as a process's VMA maps the kernel's enclave file, and
 * an enclave may have several.
 *
 * A view maps the enclave's whole range (page i at addr + i * 4096),
 * shared, and is registered with userfaultfd for missing and minor faults;
 * one handler thread per view serves them (DESIGN.md, Memory):
 *
 *   minor fault    the page is resident but not mapped here (never touched
 *                  through this view, or zapped by the reclaimer's aging):
 *                  it is marked young and mapped (UFFDIO_CONTINUE);
 *   missing fault  the page was written back (its memory is a hole): it is
 *                  loaded with ELDU, as sgx_encl_read() would, then mapped;
 *   no page        never added, its load refused (the backing, PCMD or VA
 *                  slot was changed) or its frame poisoned: the faulting
 *                  access gets SIGBUS (a poisoned entry, UFFDIO_POISON;
 *                  on kernels without it, SIGBUS is sent to the faulting
 *                  thread), never other bytes.  The entry stays until the
 *                  page is added or loaded by another path (say
 *                  sgx_encl_read() after the backing was put right);
 *                  the kernel would try the load again at each touch.
 *
 * The reclaimer zaps a page in every view (MADV_DONTNEED; the shared
 * mapping keeps the contents) when it ages it, so that the next touch is a
 * minor fault that marks it young, and before it writes it back; so the
 * LRU's accessed state is what application code really touched.
 *
 * Permissions are not per page yet: every page is readable and writable
 * through a view whatever its SECINFO says (a later step maps EPCM
 * permissions).  Faults are served for user-mode accesses: a system call
 * given an address in a view whose page is not mapped there gets EFAULT.
 * A buffer given to sgx_encl_read()/sgx_encl_write() must not lie in a view
 * of the same enclave (that call holds the lock a fault there needs).
 *
 * fork(): a child gets no copy of a view (MADV_DONTFORK), and its touch
 * of the range faults as of unmapped memory.  (The kernel's child keeps
 * the mapping and faults through the driver; a view's handler serves
 * only the process that made it.)
 *
 * Life: a view holds the enclave open, as a mapping holds the kernel's
 * enclave file: sgx_encl_release() while views exist only drops the
 * owner's hold, and the enclave is released when the last view is
 * destroyed.  Create views before the owner's release.
 *
 * Thread safety: create and destroy may run from any thread, concurrently
 * with everything else on the enclave, except that a view must not be
 * destroyed twice or used after destruction.
 */
#ifndef SGXEMU_EPC_VIEW_H
#define SGXEMU_EPC_VIEW_H

#include <stdint.h>

#include "sgxemu/encl.h"

struct sgx_encl_view;

/* Views one enclave may have at once. */
#define SGX_ENCL_VIEWS_MAX 64

/*
 * Maps the enclave and starts the view's fault handler.  Returns 0; -EINVAL
 * for NULL arguments; -ENOSPC with SGX_ENCL_VIEWS_MAX views; -EPERM or
 * -ENOSYS when userfaultfd cannot be opened here (neither the system call
 * in user-mode-only mode nor /dev/userfaultfd); -EOPNOTSUPP when the
 * kernel has no minor faults on shared memory (before Linux 5.14);
 * -ENOMEM or another -errno of mmap, madvise, the registration or the
 * thread.
 */
int sgx_encl_view_create(struct sgx_encl *encl, struct sgx_encl_view **out);

/*
 * Stops the handler, unmaps the view and closes its userfaultfd; a thread
 * still touching the view then gets SIGSEGV, as after munmap().  If the
 * owner has released the enclave and this was its last view, the enclave
 * is released now.  NULL is ignored.
 */
void sgx_encl_view_destroy(struct sgx_encl_view *view);

/* Where the view maps the enclave: offset o at addr + o. */
void *sgx_encl_view_addr(const struct sgx_encl_view *view);

struct sgx_encl_view_stats {
	uint64_t minor_faults; /* the kernel reported minor (page in memory) */
	uint64_t missing_faults; /* reported missing (a hole: written back) */
	uint64_t sigbus; /* answered with SIGBUS */
};
void sgx_encl_view_stats(const struct sgx_encl_view *view, struct sgx_encl_view_stats *st);

#endif /* SGXEMU_EPC_VIEW_H */
