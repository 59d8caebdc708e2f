/*
 * driver.h: the enclave device, /dev/sgx_enclave and /dev/sgx_provision,
 * over the SGX core (the kernel's arch/x86/kernel/cpu/sgx/driver.c and
 * ioctl.c).  An enclave file is what an open of /dev/sgx_enclave makes:
 * an object that CREATE gives a core enclave (sgx_encl) and that lives
 * while anything refers to it (handles, later mappings); its ioctls
 * answer exactly the errno values of the Linux driver.
 *
 * The driver knows no sockets and no processes.  Its caller (the machine)
 * hands it the caller's view of user memory as callbacks (struct
 * sgx_drv_user): the kernel's copy_from_user/copy_to_user, the VMA check
 * ADD_PAGES makes of its source, signal_pending() and the fget() of a
 * descriptor number.
 *
 * Locking: each enclave file serializes its ioctls with a flag (the
 * kernel's SGX_ENCL_IOCTL bit): a second ioctl on the same file while one
 * runs gets -EBUSY at once.  State fields change only inside an ioctl and
 * are read with atomics elsewhere.
 */
#ifndef SGXEMU_DRIVER_H
#define SGXEMU_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sgx_core;
struct sgx_encl;
struct sgx_drv;
struct sgx_drv_encl;

/* The kernel's internal "restart the system call" code. */
#define SGX_DRV_ERESTARTSYS 512

/* What the caller's memory and task look like to the driver. */
struct sgx_drv_user {
	void *ctx;
	/* copy_from_user, copy_to_user: 0 or -EFAULT. */
	int (*copy_from)(void *ctx, void *dst, uint64_t uaddr, size_t len);
	int (*copy_to)(void *ctx, uint64_t uaddr, const void *src, size_t len);
	/* The check __sgx_encl_add_page() makes of a source page: the first
	 * mapping that ends above uaddr (find_vma()) exists (else -EFAULT)
	 * and may be executed (VM_MAYEXEC, else -EACCES).  0 otherwise. */
	int (*source_check)(void *ctx, uint64_t uaddr);
	/* signal_pending(current): the call should stop (may be NULL). */
	bool (*signal_pending)(void *ctx);
	/* Whether descriptor number fd of the caller is an open
	 * /dev/sgx_provision (the fget() and f_op test of
	 * sgx_set_attribute()). */
	bool (*is_provision_fd)(void *ctx, uint64_t fd);
};

/* Counters of the device. */
struct sgx_drv_stats {
	uint64_t files; /* enclave files alive */
	uint64_t ioctls;
	uint64_t ioctl_busy;
	uint64_t interrupted; /* calls stopped by signal_pending */
};

/* The device over core.  0 or -ENOMEM.  The core must outlive it. */
int sgx_drv_create(struct sgx_core *core, struct sgx_drv **out);
/* Every file must have been released. */
void sgx_drv_destroy(struct sgx_drv *drv);
void sgx_drv_stats(struct sgx_drv *drv, struct sgx_drv_stats *st);
struct sgx_core *sgx_drv_core(struct sgx_drv *drv);

/* Open of /dev/sgx_enclave (sgx_open()): a new enclave file with one
 * reference.  0 or -ENOMEM. */
int sgx_drv_open(struct sgx_drv *drv, struct sgx_drv_encl **out);
/* References: the file is released (sgx_release(): its enclave, if
 * created, released in the core) when the last one goes. */
void sgx_drv_get(struct sgx_drv_encl *e);
void sgx_drv_put(struct sgx_drv_encl *e);

/*
 * sgx_ioctl(): cmd and arg as the caller gave them (arg is a user
 * address).  Returns 0 or a negative errno: -EBUSY while another ioctl
 * runs on the file, -ENOTTY for a command the device does not have,
 * -ENODEV for the SGX2 commands (the model has no SGX2), and each
 * command's errors as the Linux driver's (reference/linux-sgx.md);
 * -SGX_DRV_ERESTARTSYS when a signal stopped ADD_PAGES before its first
 * page (or an allocation), which the caller restarts or turns into EINTR.
 */
long sgx_drv_ioctl(struct sgx_drv_encl *e, uint32_t cmd, uint64_t arg,
		   const struct sgx_drv_user *u);

/*
 * The enclave files alive whose id is from_id or more, in id order, at
 * most max of them, each with a reference the caller drops with
 * sgx_drv_put() (statistics).  Returns how many were put in out.
 */
size_t sgx_drv_list(struct sgx_drv *drv, uint64_t from_id, struct sgx_drv_encl **out,
		    size_t max);
/* A file's id: 1, 2, ... in the order of the opens, never reused. */
uint64_t sgx_drv_encl_id(struct sgx_drv_encl *e);

/* State, for the mapping layer and statistics. */
bool sgx_drv_encl_created(struct sgx_drv_encl *e);
bool sgx_drv_encl_initialized(struct sgx_drv_encl *e);
/* The core enclave once created, else NULL; valid while a reference is held. */
struct sgx_encl *sgx_drv_encl_core(struct sgx_drv_encl *e);
uint64_t sgx_drv_encl_base(struct sgx_drv_encl *e);
uint64_t sgx_drv_encl_size(struct sgx_drv_encl *e);

#endif /* SGXEMU_DRIVER_H */
