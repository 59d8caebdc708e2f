/*
 * build.h: building an enclave on an emulated machine as the Linux driver
 * does, from a layout (sign.h) and its SIGSTRUCT.
 *
 * ECREATE with a SECS made from the layout and the SIGSTRUCT, EADD of every
 * page in layout order with EEXTEND of the 16 chunks of each measured page,
 * then EINIT as the kernel's sgx_encl_init() does it: the signer's hash
 * written to IA32_SGXLEPUBKEYHASH0..3 (when launch control lets the OS
 * write it), a zeroed EINITTOKEN, and retries on SGX_UNMASKED_EVENT.
 * Teardown EREMOVEs the children, then the SECS.  The check, the demo and
 * the build benchmark share these steps.
 *
 * EPC frames are taken in order from a caller-chosen first frame: the SECS
 * first, then one per page.  No page cache, no eviction: the machine's EPC
 * must hold the whole enclave.
 */
#ifndef SGXEMU_TOOLS_BUILD_H
#define SGXEMU_TOOLS_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/cpu.h"
#include "sgxemu/sign.h"

struct build_enclave {
	struct sgx_cpu *cpu;
	uint64_t base; /* linear address of the enclave, aligned to size */
	uint64_t size;
	uint64_t first_frame; /* frame of the SECS; pages follow it */
	void *secs; /* EPC address of the SECS; NULL until ECREATE succeeds */
	void **epc; /* EPC address of layout page i */
	size_t nr_pages; /* entries in epc */
	size_t nr_added; /* pages EADDed so far: epc[0..nr_added) */
	bool initialized;
};

/* Where a build stopped when a leaf failed. */
struct build_status {
	const char *leaf; /* "ECREATE", "EADD", "EEXTEND", "EINIT"; NULL if none failed */
	int ret; /* the leaf's return: an SGX code or ENCLS_FAULT(trapnr) */
	uint64_t offset; /* offset of the page EADD/EEXTEND failed on */
};

/* Creates a machine of the default model (sgx_cpu_config_default()) with
 * launch control lc and an EPC of epc_bytes, or, when epc_bytes is 0, the
 * smallest whole number of MiB that holds frames pages.  0, -EINVAL (the
 * model refuses the size), -ENOMEM. */
int build_machine(uint64_t frames, uint64_t epc_bytes, enum sgx_lc_mode lc,
		  struct sgx_cpu **cpu);

/* The EPC build_machine() makes for frames pages when not told a size:
 * whole MiB; 0 past 1 TiB. */
uint64_t build_epc_bytes(uint64_t frames);

/* Frames a build of layout takes (SECS + pages). */
uint64_t build_frames_needed(const struct sgx_layout *layout);

/* The linear address the enclave is placed at: aligned to size, canonical.
 * 0 if size is not a power of two the model can place. */
uint64_t build_base_for(uint64_t size);

/* The SECS ECREATE gets, as the driver fills it from the loader's
 * request: size and SSA frame size from the layout, the base given, and
 * the identity fields (MISCSELECT, ATTRIBUTES, XFRM) from what the signer
 * states in sigstruct; everything else zero. */
void build_secs(const struct sgx_layout *layout, const struct sgx_sigstruct *sigstruct,
		uint64_t base, struct sgx_secs *secs);

/*
 * ECREATE, EADD+EEXTEND and EINIT.  Returns 0 on success; 1 if a leaf
 * failed (st says which and why; the pages added so far stay, for
 * build_remove()); -ENOSPC if the machine's EPC lacks the frames,
 * -EINVAL for a layout that cannot be placed, -ENOMEM.  Whatever the
 * result, build_remove() then releases what was built.
 */
int build_enclave(struct sgx_cpu *cpu, const struct sgx_layout *layout,
		  const struct sgx_sigstruct *sigstruct, uint64_t first_frame,
		  struct build_enclave *encl, struct build_status *st);

/* The steps of build_enclave(), for callers that time or vary them. */
int build_create(struct sgx_cpu *cpu, const struct sgx_layout *layout,
		 const struct sgx_sigstruct *sigstruct, uint64_t first_frame,
		 struct build_enclave *encl, struct build_status *st);
int build_add_pages(struct build_enclave *encl, const struct sgx_layout *layout,
		    struct build_status *st);
int build_init(struct build_enclave *encl, const struct sgx_sigstruct *sigstruct,
	       struct build_status *st);

/*
 * EREMOVEs every page added, children first and the SECS last, and frees
 * encl's bookkeeping.  Returns 0, or the first EREMOVE failure (an SGX code
 * or fault); it still tries every page.
 */
int build_remove(struct build_enclave *encl);

#endif /* SGXEMU_TOOLS_BUILD_H */
