/*
 * encl.h: enclaves as the kernel's SGX core keeps them (the kernel's
 * encl.h): a SECS page, a tree of enclave pages, version-array (VA) pages,
 * and a backing object that holds the pages written back.
 *
 * The calls follow what the Linux driver's ioctls need: create from a SECS
 * (ECREATE), add pages (EADD, EEXTEND), init (EINIT), then access pages and
 * release.  Access goes through the emulator's own mapping of the page,
 * never through an application's mapping; a page that was written back is
 * faulted in first (ELDU), as the kernel's fault handler does.
 *
 * Contents object.  The bytes of resident pages live in a second memfd of
 * the enclave's size, page i at byte i * 4096 (DESIGN.md, Memory): the
 * frame given to page i (EADD, ELDU) has its bytes bound there
 * (sgx_cpu_frame_bind()), and when the page leaves the EPC the frame gets
 * its own bytes back and the page's memory is released.  Applications map
 * the object through views (view.h), whose touches are the accessed state
 * the reclaimer's aging reads.
 *
 * Backing object.  Each enclave has one memfd with the kernel's layout:
 * enclave page i at byte i * 4096, the SECS at byte size, and the PCMD of
 * page i at byte size + 4096 + i * 128 (32 per page); its length is
 * (size + 4096) * (1 + 1/32).  sgx_encl_backing_fd() hands it out, so that a
 * test or a researcher can play the malicious kernel: change a written-back
 * page or its PCMD, or put an older copy back.  The processor refuses such a
 * load and the owner's access returns -EIO, never wrong bytes.
 *
 * Errors.  Functions return 0 or a negative errno.  The processor's codes
 * become errnos here, as the kernel's driver maps them: a leaf that faults
 * is -EIO (-EFAULT where the kernel says so), EINIT's refusal -EPERM.
 *
 * Thread safety: every call may be made from any thread at once; calls on
 * one enclave serialize on its lock.  sgx_encl_release() must be the last
 * call the owner makes on an enclave.
 */
#ifndef SGXEMU_EPC_ENCL_H
#define SGXEMU_EPC_ENCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/arch.h"
#include "sgxemu/cpu.h"

struct sgx_core;
struct sgx_encl;

/* Why a page's application views are zapped. */
enum sgx_encl_zap_reason {
	/* Aging: the page was found young; the next touch of the application
	 * must fault (a minor fault) and call sgx_encl_mark_young(). */
	SGX_ZAP_AGE,
	/* The page is about to be written back. */
	SGX_ZAP_RECLAIM,
};

/*
 * Hooks of a layer that tracks mappings of an enclave besides its views
 * (view.h), which the core zaps itself before calling zap.  Every hook may
 * be NULL.  They are called
 * from reclaiming threads; zap without the enclave's lock, kick with it
 * held: neither may call back into this enclave.  None is called once
 * sgx_encl_release() has returned (it waits for one that runs, so the
 * owner must not release while holding a lock its hooks take), and the
 * context may be freed then, though a reclaimer may still hold the
 * enclave.
 */
struct sgx_encl_ops {
	/* Removes the page at offset from every application view, so that
	 * the next touch faults (the kernel's zap_vma_ptes()). */
	void (*zap)(struct sgx_encl *encl, uint64_t offset, enum sgx_encl_zap_reason why,
		    void *ctx);
	/* Asks the threads inside the enclave to leave it (the kernel's IPI
	 * to the CPUs in the enclave's mm_cpumask). */
	void (*kick)(struct sgx_encl *encl, void *ctx);
};

/*
 * Creates an enclave from a SECS (the kernel's sgx_encl_create()): checks
 * that size is a power of two of at least 2 pages and within the machine's
 * maximum (-EINVAL), makes the backing object, allocates the first VA page
 * and the SECS page (reclaiming if need be) and runs ECREATE (-EIO when it
 * faults: the processor checks the SECS).  ops may be NULL.  Returns 0,
 * -EINVAL, -EIO, -ENOMEM (no EPC page can be had), or -errno from making the
 * backing object.
 */
int sgx_encl_create(struct sgx_core *core, const struct sgx_secs *secs,
		    const struct sgx_encl_ops *ops, void *ops_ctx, struct sgx_encl **out);

/*
 * Adds the page at offset (page aligned, inside the enclave): allocates an
 * EPC page, reclaiming if need be, runs EADD with src (4096 bytes, any
 * alignment) and secinfo, then EEXTEND for each 256-byte chunk whose bit is
 * set in extend_mask (0xFFFF: the whole page, the driver's
 * SGX_PAGE_MEASURE).  Under the kernel's VA policy (core.h), a page that
 * brings the enclave's pages, its SECS included, past a multiple of 512
 * allocates a VA page first (EPA), which a failed EADD frees again.  The
 * page then joins the LRU, as the kernel marks it reclaimable right after
 * EADD.  Returns 0; -EINVAL for a bad offset or an
 * initialized enclave; -EBUSY if the offset was added already; -EIO when
 * EADD or EEXTEND faults or fails (the page is then not added); -ENOMEM or
 * -EINTR from the allocation.
 */
int sgx_encl_add_page(struct sgx_encl *encl, uint64_t offset, const void *src,
		      const struct sgx_secinfo *secinfo, uint16_t extend_mask);

/*
 * Initializes the enclave with the kernel's sequence: on a machine whose
 * launch control is writable, writes SHA-256 of the SIGSTRUCT's modulus to
 * IA32_SGXLEPUBKEYHASH0..3 of the calling thread, then runs EINIT with
 * token (NULL: a zeroed token), retrying on SGX_UNMASKED_EVENT (20 tries,
 * 50 rounds, 20 ms apart).  Returns 0; -EINVAL if already initialized;
 * -EIO when EINIT faults; -EPERM when it refuses.  *leaf_ret (if not NULL)
 * receives EINIT's own return (an SGX code or a fault).
 */
int sgx_encl_init(struct sgx_encl *encl, const struct sgx_sigstruct *sigstruct,
		  const struct sgx_einittoken *token, int *leaf_ret);

/*
 * Reads or writes len bytes at offset (any alignment; the range may cross
 * pages) through the emulator's view of each page, faulting written-back
 * pages in (ELDU, the SECS first if it was written back too) and marking
 * each page young.  Returns 0; -EINVAL for a range outside the enclave;
 * -EFAULT for a page never added; -EIO when the processor refuses to load
 * a page (its backing, PCMD or VA slot was changed: the kernel's SIGBUS);
 * -EHWPOISON for a page, or SECS, whose frame had a memory failure;
 * -ENOMEM when no EPC page can be had.  On an error the bytes before the
 * failing page have been transferred.
 */
int sgx_encl_read(struct sgx_encl *encl, uint64_t offset, void *buf, size_t len);
int sgx_encl_write(struct sgx_encl *encl, uint64_t offset, const void *buf, size_t len);

/*
 * The fault path of a mapping of the enclave (the kernel's sgx_vma_fault()
 * up to the PTE insertion), for a layer that maps the contents object in
 * other address spaces: the page at offset is made resident (loaded with
 * ELDU if it was written back, waiting while a reclaimer writes it back)
 * and marked young, so the caller may map it.  prot (PROT_READ,
 * PROT_WRITE, PROT_EXEC bits) is the faulting mapping's protection, which
 * the page's maximum permissions must cover (sgx_encl_load_page_in_vma()).
 * *how (if not NULL) tells SGX_ENCL_FAULT_LOADED (ELDU ran) from
 * SGX_ENCL_FAULT_YOUNG (it was resident).  The enclave's lock is not held
 * on return: a write-back can begin at once, so the caller maps the page
 * only if no zap of it (sgx_encl_ops.zap) reached the address space since
 * it called (the runtime's zap generations do that).
 *
 * Returns 0; -EINVAL for an offset outside the enclave; -EFAULT for no page
 * there (the kernel's SIGBUS); -EPERM for a TCS page, which code outside
 * the enclave never reads or writes (the caller answers SIGSEGV, as the
 * abort page cannot be had); -EACCES when prot exceeds the page's maximum
 * permissions (SIGBUS); -EIO when the processor refuses the load (SIGBUS);
 * -EHWPOISON; -ENOMEM or -EINTR from the allocation.
 */
enum sgx_encl_fault_how {
	SGX_ENCL_FAULT_YOUNG = 0,
	SGX_ENCL_FAULT_LOADED = 1,
};
int sgx_encl_fault(struct sgx_encl *encl, uint64_t offset, unsigned int prot,
		   enum sgx_encl_fault_how *how);

/*
 * Whether a mapping of [offset, offset + len) with protection prot is
 * allowed by the pages there (the page loop of the kernel's
 * sgx_encl_may_map()): 0, or -EACCES when a page added in the range has
 * maximum permissions that lack a bit of prot.  Pages not added yet allow
 * anything.  The range is clipped to the enclave.
 */
int sgx_encl_may_map_pages(struct sgx_encl *encl, uint64_t offset, uint64_t len,
			   unsigned int prot);

/* Marks the page at offset young (the mapping layer calls it from its minor
 * fault handler).  0, -EFAULT for a page never added, or -EINVAL for an
 * offset outside the enclave. */
int sgx_encl_mark_young(struct sgx_encl *encl, uint64_t offset);

/*
 * Puts the calling thread inside the enclave on the TCS at tcs_offset
 * (loading the TCS and SECS first if they were written back), so that the
 * reclaimer's EWB meets the tracking the hardware does.  Returns 0; -EFAULT
 * for no page there; -EINVAL if it is not a TCS, the enclave is not
 * initialized or the thread is inside an enclave already; -EAGAIN when the
 * processor refuses the entry (TCS busy or blocked; try again); the errors
 * of sgx_encl_read() for the load.  Leave with sgx_encl_exit().
 */
int sgx_encl_enter(struct sgx_encl *encl, uint64_t tcs_offset, struct sgx_cpu_thread *t);
void sgx_encl_exit(struct sgx_encl *encl, struct sgx_cpu_thread *t);

/*
 * Writes the page at offset back now, as the reclaimer would (without
 * aging).  offset == the enclave's size names the SECS, which is written
 * back only when no child is resident.  Returns 0; -EFAULT for no page
 * there; -EALREADY if it is not resident; -EBUSY if a reclaimer holds it,
 * or (SECS) children are resident or the enclave is not initialized;
 * -ENOMEM when the backing limit forbids it; -EAGAIN when threads stayed
 * inside the enclave; -EHWPOISON for a poisoned frame; -EIO for another
 * refusal of EWB.  Written back or not, the page's contents are kept.
 */
int sgx_encl_evict(struct sgx_encl *encl, uint64_t offset);

/*
 * Drops the owner's reference.  When the reclaimer holds none, the enclave
 * is torn down at once (the kernel's sgx_encl_release()): every page is
 * EREMOVEd and freed, the VA pages too, every backing charge is returned
 * and the backing object is closed.  Otherwise the reclaimer tears it down
 * when it lets go (sgx_core_quiesce() waits for that).  While application
 * views (view.h) exist, they hold the enclave open and the release happens
 * when the last one is destroyed, as a mapping holds the kernel's file.
 */
void sgx_encl_release(struct sgx_encl *encl);

/* The contents memfd (page i at byte i * 4096 while resident) and where
 * the core maps it in this process (core.h, contents placement): what a
 * machine hands a client to map the enclave and to mirror it at the same
 * address.  Valid until the enclave is torn down; do not close or unmap. */
int sgx_encl_contents_fd(const struct sgx_encl *encl);
void *sgx_encl_contents_addr(const struct sgx_encl *encl);

/* --- Backing object and introspection (the malicious kernel's view) ------ */

/* The backing memfd, valid until the enclave is torn down.  Do not close
 * it.  The backing memory of pages loaded lately is released in batches;
 * this call releases what is pending first, so that the object, looked at
 * now, holds exactly the pages written back and their PCMD pages. */
int sgx_encl_backing_fd(struct sgx_encl *encl);
/* Byte offsets in the backing object of page index (offset >> 12; the
 * SECS's index is size >> 12) and of its PCMD. */
uint64_t sgx_encl_backing_page_offset(const struct sgx_encl *encl, uint64_t index);
uint64_t sgx_encl_backing_pcmd_offset(const struct sgx_encl *encl, uint64_t index);
/* Length of the backing object. */
uint64_t sgx_encl_backing_size(const struct sgx_encl *encl);

uint64_t sgx_encl_base(const struct sgx_encl *encl);
uint64_t sgx_encl_size(const struct sgx_encl *encl);
bool sgx_encl_initialized(struct sgx_encl *encl);

struct sgx_encl_page_info {
	bool present; /* added (the SECS always is) */
	bool resident;
	bool being_reclaimed;
	bool blocked; /* EBLOCKed, EWB not done yet (or given up) */
	bool poisoned; /* its frame had a memory failure */
	bool young; /* touched since the reclaimer last aged it */
	uint8_t type; /* enum sgx_page_type */
	/* The most a mapping may allow (PROT_READ/WRITE/EXEC bits, the
	 * kernel's vm_max_prot_bits): the SECINFO's R, W and X at EADD, and
	 * R and W for a TCS, whose EPCM permissions the processor zeroes. */
	uint8_t max_prot;
	void *epc_addr; /* frame, when resident */
	void *va_slot; /* EPC address of its VA slot, when written back */
	uint64_t backing_offset;
	uint64_t pcmd_offset;
};
/* Describes the page at offset (the enclave's size: the SECS).  0 or
 * -EINVAL for an offset outside. */
int sgx_encl_page_info(struct sgx_encl *encl, uint64_t offset, struct sgx_encl_page_info *info);

struct sgx_encl_stats {
	uint64_t pages; /* children added */
	uint64_t resident; /* children resident */
	uint64_t written_back; /* children and SECS in the backing object */
	bool secs_resident;
	uint64_t va_pages;
	uint64_t va_slots_used;
	uint64_t charged; /* backing pages charged for this enclave */
	uint64_t pcmd_pages; /* PCMD pages in use */
	/* Since creation: children written back (EWB) and loaded (ELDU), and
	 * sgx_encl_fault() calls that made a page usable (and of those, the
	 * ones that loaded it). */
	uint64_t writebacks;
	uint64_t loads;
	uint64_t faults;
	uint64_t faults_loaded;
};
void sgx_encl_stats(struct sgx_encl *encl, struct sgx_encl_stats *st);

#endif /* SGXEMU_EPC_ENCL_H */
