/*
 * uapi_sgx.h: the user-space interface of the Linux SGX driver, as a
 * loader sees it (the kernel's arch/x86/include/uapi/asm/sgx.h): the ioctl
 * numbers and argument layouts of /dev/sgx_enclave, SGX_PAGE_MEASURE, the
 * run structure and the type of the vDSO's enter function.
 *
 * The numbers and layouts are Linux's, so that a loader written for the
 * kernel compiles against this header unchanged; the text is this
 * project's.  It needs libc only (no other sgxemu header), so a test or a
 * loader can include it alone.  Every field is a fixed-width integer and
 * every size and offset is checked at compile time below.
 */
#ifndef SGXEMU_UAPI_SGX_H
#define SGXEMU_UAPI_SGX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define SGX_MAGIC 0xA4

/* ADD_PAGES' flags: measure each 256-byte chunk of the page (EEXTEND). */
#define SGX_PAGE_MEASURE 0x01

/* CREATE: src is the address of a SECS (4096 bytes) in the caller. */
struct sgx_enclave_create {
	uint64_t src;
};

/*
 * ADD_PAGES: length bytes from src (page aligned) become the enclave's
 * pages at offset, each with the SECINFO at secinfo.  count is output
 * only: the bytes added, written back on every return.
 */
struct sgx_enclave_add_pages {
	uint64_t src;
	uint64_t offset;
	uint64_t length;
	uint64_t secinfo;
	uint64_t flags;
	uint64_t count;
};

/* INIT: sigstruct is the address of a SIGSTRUCT (1808 bytes). */
struct sgx_enclave_init {
	uint64_t sigstruct;
};

/* PROVISION: fd is an open /dev/sgx_provision. */
struct sgx_enclave_provision {
	uint64_t fd;
};

/* SGX2: EMODPR of a range; result receives the leaf's error code. */
struct sgx_enclave_restrict_permissions {
	uint64_t offset;
	uint64_t length;
	uint64_t permissions;
	uint64_t result;
	uint64_t count;
};

/* SGX2: EMODT of a range. */
struct sgx_enclave_modify_types {
	uint64_t offset;
	uint64_t length;
	uint64_t page_type;
	uint64_t result;
	uint64_t count;
};

/* SGX2: removal of trimmed and accepted pages. */
struct sgx_enclave_remove_pages {
	uint64_t offset;
	uint64_t length;
	uint64_t count;
};

#define SGX_IOC_ENCLAVE_CREATE _IOW(SGX_MAGIC, 0x00, struct sgx_enclave_create)
#define SGX_IOC_ENCLAVE_ADD_PAGES _IOWR(SGX_MAGIC, 0x01, struct sgx_enclave_add_pages)
#define SGX_IOC_ENCLAVE_INIT _IOW(SGX_MAGIC, 0x02, struct sgx_enclave_init)
#define SGX_IOC_ENCLAVE_PROVISION _IOW(SGX_MAGIC, 0x03, struct sgx_enclave_provision)
/* /dev/sgx_vepc only. */
#define SGX_IOC_VEPC_REMOVE_ALL _IO(SGX_MAGIC, 0x04)
#define SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS \
	_IOWR(SGX_MAGIC, 0x05, struct sgx_enclave_restrict_permissions)
#define SGX_IOC_ENCLAVE_MODIFY_TYPES _IOWR(SGX_MAGIC, 0x06, struct sgx_enclave_modify_types)
#define SGX_IOC_ENCLAVE_REMOVE_PAGES _IOWR(SGX_MAGIC, 0x07, struct sgx_enclave_remove_pages)

/* The leaves of the enter function and of run->function. */
#define SGX_ENCLU_EENTER 2
#define SGX_ENCLU_ERESUME 3
#define SGX_ENCLU_EEXIT 4

struct sgx_enclave_run;

/*
 * A user handler of the enter function: called with the registers the
 * enclave left (rdi, rsi, rdx, rsp, r8, r9) and the run structure; a
 * return of 0 ends the call with 0, a negative one ends it with that
 * value, a positive one is the next ENCLU leaf (EENTER or ERESUME).
 */
typedef int (*sgx_enclave_user_handler_t)(long rdi, long rsi, long rdx, long rsp, long r8,
					  long r9, struct sgx_enclave_run *run);

/* The run structure of __vdso_sgx_enter_enclave(): 256 bytes. */
struct sgx_enclave_run {
	uint64_t tcs;
	uint32_t function;
	uint16_t exception_vector;
	uint16_t exception_error_code;
	uint64_t exception_addr;
	uint64_t user_handler;
	uint64_t user_data;
	uint8_t reserved[216];
};

/*
 * The vDSO's enter function: runs leaf function (EENTER 2 or ERESUME 3) on
 * run->tcs.  Returns 0 when the enclave exits (function EEXIT 4) or takes
 * an exception (function ERESUME, exception_* filled), -EINVAL for another
 * leaf or nonzero reserved bytes, or a user handler's negative return.
 */
typedef int (*vdso_sgx_enter_enclave_t)(unsigned long rdi, unsigned long rsi, unsigned long rdx,
					unsigned int function, unsigned long r8, unsigned long r9,
					struct sgx_enclave_run *run);

_Static_assert(sizeof(struct sgx_enclave_create) == 8, "create");
_Static_assert(sizeof(struct sgx_enclave_add_pages) == 48, "add_pages");
_Static_assert(offsetof(struct sgx_enclave_add_pages, count) == 40, "add_pages.count");
_Static_assert(sizeof(struct sgx_enclave_init) == 8, "init");
_Static_assert(sizeof(struct sgx_enclave_provision) == 8, "provision");
_Static_assert(sizeof(struct sgx_enclave_restrict_permissions) == 40, "restrict");
_Static_assert(sizeof(struct sgx_enclave_modify_types) == 40, "modify_types");
_Static_assert(sizeof(struct sgx_enclave_remove_pages) == 24, "remove_pages");
_Static_assert(sizeof(struct sgx_enclave_run) == 256, "run");
_Static_assert(offsetof(struct sgx_enclave_run, function) == 8, "run.function");
_Static_assert(offsetof(struct sgx_enclave_run, exception_vector) == 12, "run.vector");
_Static_assert(offsetof(struct sgx_enclave_run, exception_error_code) == 14, "run.error");
_Static_assert(offsetof(struct sgx_enclave_run, exception_addr) == 16, "run.addr");
_Static_assert(offsetof(struct sgx_enclave_run, user_handler) == 24, "run.handler");
_Static_assert(offsetof(struct sgx_enclave_run, user_data) == 32, "run.data");
_Static_assert(offsetof(struct sgx_enclave_run, reserved) == 40, "run.reserved");
_Static_assert(SGX_IOC_ENCLAVE_CREATE == 0x4008A400, "CREATE number");
_Static_assert(SGX_IOC_ENCLAVE_ADD_PAGES == 0xC030A401, "ADD_PAGES number");
_Static_assert(SGX_IOC_ENCLAVE_INIT == 0x4008A402, "INIT number");
_Static_assert(SGX_IOC_ENCLAVE_PROVISION == 0x4008A403, "PROVISION number");
_Static_assert(SGX_IOC_VEPC_REMOVE_ALL == 0xA404, "REMOVE_ALL number");
_Static_assert(SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS == 0xC028A405, "RESTRICT number");
_Static_assert(SGX_IOC_ENCLAVE_MODIFY_TYPES == 0xC028A406, "MODIFY_TYPES number");
_Static_assert(SGX_IOC_ENCLAVE_REMOVE_PAGES == 0xC018A407, "REMOVE_PAGES number");

#endif /* SGXEMU_UAPI_SGX_H */
