/*
 * driver.c: the enclave device's file operations and ioctls, after the
 * kernel's arch/x86/kernel/cpu/sgx/driver.c (sgx_open, sgx_release) and
 * ioctl.c (sgx_ioctl and its handlers), over the core's enclave calls.
 *
 * The checks run in the kernel's order, so that an argument with two
 * faults gets the errno the kernel gives: state first, then the copy of
 * the argument, then each field, then the per-page work.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/debug.h"
#include "driver/driver.h"
#include "sgxemu/arch.h"
#include "sgxemu/core.h"
#include "sgxemu/cpu.h"
#include "sgxemu/encl.h"
#include "sgxemu/uapi_sgx.h"

struct sgx_drv {
	struct sgx_core *core;
	/* The kernel's masks of what the processor reserves, from CPUID
	 * leaf 0x12 (sgx_init()'s sgx_misc_reserved_mask and friends). */
	uint64_t attributes_reserved;
	uint64_t xfrm_reserved;
	uint32_t misc_reserved;
	_Atomic uint64_t files;
	_Atomic uint64_t ioctls;
	_Atomic uint64_t ioctl_busy;
	_Atomic uint64_t interrupted;
	/* Every enclave file alive, in the order of their ids (for
	 * statistics: sgx_drv_list()). */
	pthread_mutex_t files_lock;
	struct sgx_drv_encl *first, *last;
	uint64_t next_id;
};

/* Flags of an enclave file (the kernel's encl->flags). */
#define DRV_ENCL_CREATED 0x1u
#define DRV_ENCL_INITIALIZED 0x2u

/*
 * An enclave file.  refs counts the handles (and later mappings) that
 * hold it.  in_ioctl is the kernel's SGX_ENCL_IOCTL bit.  Everything
 * below flags changes only inside an ioctl (in_ioctl held) and is
 * published by the release store of flags, so readers that see
 * DRV_ENCL_CREATED see encl, base and size.
 */
struct sgx_drv_encl {
	struct sgx_drv *drv;
	_Atomic int refs;
	atomic_flag in_ioctl;
	_Atomic unsigned int flags;
	struct sgx_encl *encl;
	uint64_t base;
	uint64_t size;
	uint64_t attributes; /* the SECS's */
	/* Attributes INIT lets the enclave have: the unprivileged ones, and
	 * PROVISIONKEY once PROVISION was given a provisioning handle. */
	uint64_t attributes_mask;
	/* Fixed at open; the links are drv->files_lock's. */
	uint64_t id;
	struct sgx_drv_encl *prev, *next;
};

int sgx_drv_create(struct sgx_core *core, struct sgx_drv **out)
{
	const struct sgx_cpu_config *cfg = sgx_cpu_config(sgx_core_cpu(core));
	struct sgx_drv *drv = calloc(1, sizeof(*drv));

	if (!drv)
		return -ENOMEM;
	drv->core = core;
	drv->attributes_reserved = ~cfg->attributes_valid | SGX_ATTR_RESERVED_MASK;
	drv->xfrm_reserved = ~cfg->xfrm_valid;
	drv->misc_reserved = ~cfg->miscselect_valid | SGX_MISC_RESERVED_MASK;
	pthread_mutex_init(&drv->files_lock, NULL);
	*out = drv;
	return 0;
}

void sgx_drv_destroy(struct sgx_drv *drv)
{
	if (!drv)
		return;
	SGXEMU_ASSERT(atomic_load(&drv->files) == 0);
	pthread_mutex_destroy(&drv->files_lock);
	free(drv);
}

void sgx_drv_stats(struct sgx_drv *drv, struct sgx_drv_stats *st)
{
	st->files = atomic_load(&drv->files);
	st->ioctls = atomic_load(&drv->ioctls);
	st->ioctl_busy = atomic_load(&drv->ioctl_busy);
	st->interrupted = atomic_load(&drv->interrupted);
}

struct sgx_core *sgx_drv_core(struct sgx_drv *drv)
{
	return drv->core;
}

int sgx_drv_open(struct sgx_drv *drv, struct sgx_drv_encl **out)
{
	struct sgx_drv_encl *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->drv = drv;
	atomic_init(&e->refs, 1);
	atomic_flag_clear(&e->in_ioctl);
	atomic_fetch_add(&drv->files, 1);
	pthread_mutex_lock(&drv->files_lock);
	e->id = ++drv->next_id;
	e->prev = drv->last;
	if (drv->last)
		drv->last->next = e;
	else
		drv->first = e;
	drv->last = e;
	pthread_mutex_unlock(&drv->files_lock);
	*out = e;
	return 0;
}

void sgx_drv_get(struct sgx_drv_encl *e)
{
	int old = atomic_fetch_add(&e->refs, 1);

	SGXEMU_ASSERT(old > 0);
	(void)old;
}

/* sgx_release() then the kref's sgx_encl_release(): the last reference
 * takes the core enclave with it (every EPC page, VA page and backing
 * charge returns, now or when a reclaimer lets go of it). */
void sgx_drv_put(struct sgx_drv_encl *e)
{
	struct sgx_drv *drv = e->drv;

	if (atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	pthread_mutex_lock(&drv->files_lock);
	if (e->prev)
		e->prev->next = e->next;
	else
		drv->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		drv->last = e->prev;
	pthread_mutex_unlock(&drv->files_lock);
	if (e->encl)
		sgx_encl_release(e->encl);
	free(e);
	atomic_fetch_sub(&drv->files, 1);
}

size_t sgx_drv_list(struct sgx_drv *drv, uint64_t from_id, struct sgx_drv_encl **out,
		    size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&drv->files_lock);
	for (struct sgx_drv_encl *e = drv->first; e && n < max; e = e->next) {
		int refs = atomic_load(&e->refs);

		if (e->id < from_id)
			continue;
		/* A file whose last reference went is on its way out. */
		while (refs > 0 && !atomic_compare_exchange_weak(&e->refs, &refs, refs + 1))
			;
		if (refs > 0)
			out[n++] = e;
	}
	pthread_mutex_unlock(&drv->files_lock);
	return n;
}

uint64_t sgx_drv_encl_id(struct sgx_drv_encl *e)
{
	return e->id;
}

bool sgx_drv_encl_created(struct sgx_drv_encl *e)
{
	return atomic_load_explicit(&e->flags, memory_order_acquire) & DRV_ENCL_CREATED;
}

bool sgx_drv_encl_initialized(struct sgx_drv_encl *e)
{
	return atomic_load_explicit(&e->flags, memory_order_acquire) & DRV_ENCL_INITIALIZED;
}

struct sgx_encl *sgx_drv_encl_core(struct sgx_drv_encl *e)
{
	return sgx_drv_encl_created(e) ? e->encl : NULL;
}

uint64_t sgx_drv_encl_base(struct sgx_drv_encl *e)
{
	return sgx_drv_encl_created(e) ? e->base : 0;
}

uint64_t sgx_drv_encl_size(struct sgx_drv_encl *e)
{
	return sgx_drv_encl_created(e) ? e->size : 0;
}

static void set_flag(struct sgx_drv_encl *e, unsigned int flag)
{
	atomic_fetch_or_explicit(&e->flags, flag, memory_order_release);
}

/* The core's errors as the kernel's driver returns them: an allocation
 * stopped by a signal is the kernel's -ERESTARTSYS. */
static int drv_errno(int ret)
{
	return ret == -EINTR ? -SGX_DRV_ERESTARTSYS : ret;
}

/* --- CREATE: sgx_ioc_enclave_create() ------------------------------------ */

static long ioc_create(struct sgx_drv_encl *e, uint64_t arg, const struct sgx_drv_user *u)
{
	struct sgx_enclave_create create;
	struct sgx_secs *secs;
	int ret;

	if (atomic_load(&e->flags) & DRV_ENCL_CREATED)
		return -EINVAL;
	if (u->copy_from(u->ctx, &create, arg, sizeof(create)))
		return -EFAULT;
	secs = malloc(sizeof(*secs));
	if (!secs)
		return -ENOMEM;
	if (u->copy_from(u->ctx, secs, create.src, sizeof(*secs))) {
		ret = -EFAULT;
		goto out_free;
	}
	/* sgx_encl_create(): the size check, the backing object, the VA
	 * page, the SECS page and ECREATE (which checks the rest). */
	ret = drv_errno(sgx_encl_create(e->drv->core, secs, NULL, NULL, &e->encl));
	if (ret)
		goto out_free;
	e->base = secs->base;
	e->size = secs->size;
	e->attributes = secs->attributes;
	e->attributes_mask = SGX_ATTR_UNPRIV_MASK;
	set_flag(e, DRV_ENCL_CREATED);
out_free:
	free(secs);
	return ret;
}

/* --- ADD_PAGES: sgx_ioc_enclave_add_pages() ------------------------------ */

/* sgx_validate_offset_length(). */
static int validate_offset_length(const struct sgx_drv_encl *e, uint64_t offset, uint64_t length)
{
	if (offset & (SGX_PAGE_SIZE - 1))
		return -EINVAL;
	if (!length || (length & (SGX_PAGE_SIZE - 1)))
		return -EINVAL;
	if (offset + length < offset)
		return -EINVAL;
	if (offset + length - SGX_PAGE_SIZE >= e->size)
		return -EINVAL;
	return 0;
}

/* sgx_validate_secinfo(): a type the driver adds, permissions the
 * processor would silently drop, and zero reserved bits and bytes. */
static int validate_secinfo(const struct sgx_secinfo *secinfo)
{
	uint64_t perm = secinfo->flags & SGX_SECINFO_PERMISSION_MASK;
	uint64_t pt = secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK;
	static const uint8_t zero[sizeof(secinfo->reserved)];

	if (pt != SGX_SECINFO_REG && pt != SGX_SECINFO_TCS)
		return -EINVAL;
	if ((perm & SGX_SECINFO_W) && !(perm & SGX_SECINFO_R))
		return -EINVAL;
	if (pt == SGX_SECINFO_TCS && perm)
		return -EINVAL;
	if (secinfo->flags & ~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK))
		return -EINVAL;
	if (memcmp(secinfo->reserved, zero, sizeof(zero)))
		return -EINVAL;
	return 0;
}

/*
 * One page (sgx_encl_add_page() and __sgx_encl_add_page()): a page already
 * added is -EBUSY (the xa_insert), then the source's mapping is checked
 * (-EFAULT, -EACCES) and read (-EFAULT), then EADD and EEXTEND run.
 */
static int add_one_page(struct sgx_drv_encl *e, uint64_t src, uint64_t offset,
			const struct sgx_secinfo *secinfo, uint64_t flags,
			const struct sgx_drv_user *u, uint8_t *page)
{
	struct sgx_encl_page_info info;
	int ret;

	if (sgx_encl_page_info(e->encl, offset, &info) == 0 && info.present)
		return -EBUSY;
	ret = u->source_check(u->ctx, src);
	if (ret)
		return ret;
	if (u->copy_from(u->ctx, page, src, SGX_PAGE_SIZE))
		return -EFAULT;
	ret = sgx_encl_add_page(e->encl, offset, page, secinfo,
				(flags & SGX_PAGE_MEASURE) ? 0xFFFF : 0);
	return drv_errno(ret);
}

static long ioc_add_pages(struct sgx_drv_encl *e, uint64_t arg, const struct sgx_drv_user *u)
{
	struct sgx_enclave_add_pages add;
	struct sgx_secinfo secinfo;
	uint8_t *page;
	uint64_t c;
	int ret = 0;

	if ((atomic_load(&e->flags) & (DRV_ENCL_CREATED | DRV_ENCL_INITIALIZED)) != DRV_ENCL_CREATED)
		return -EINVAL;
	if (u->copy_from(u->ctx, &add, arg, sizeof(add)))
		return -EFAULT;
	if (add.src & (SGX_PAGE_SIZE - 1))
		return -EINVAL;
	if (validate_offset_length(e, add.offset, add.length))
		return -EINVAL;
	if (u->copy_from(u->ctx, &secinfo, add.secinfo, sizeof(secinfo)))
		return -EFAULT;
	if (validate_secinfo(&secinfo))
		return -EINVAL;
	page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!page)
		return -ENOMEM;
	for (c = 0; c < add.length; c += SGX_PAGE_SIZE) {
		/* As the kernel: a signal before the first page restarts the
		 * call, a later one ends it with the progress made. */
		if (u->signal_pending && u->signal_pending(u->ctx)) {
			atomic_fetch_add(&e->drv->interrupted, 1);
			if (!c)
				ret = -SGX_DRV_ERESTARTSYS;
			break;
		}
		ret = add_one_page(e, add.src + c, add.offset + c, &secinfo, add.flags, u, page);
		if (ret)
			break;
	}
	free(page);
	/* count is written back whatever happened, and a failed write is
	 * the call's answer. */
	add.count = c;
	if (u->copy_to(u->ctx, arg + offsetof(struct sgx_enclave_add_pages, count), &add.count,
		       sizeof(add.count)))
		return -EFAULT;
	return ret;
}

/* --- INIT: sgx_ioc_enclave_init() and the driver's sgx_encl_init() ------- */

static long ioc_init(struct sgx_drv_encl *e, uint64_t arg, const struct sgx_drv_user *u)
{
	const struct sgx_drv *drv = e->drv;
	struct sgx_enclave_init init;
	struct sgx_sigstruct *sig;
	int ret;

	if ((atomic_load(&e->flags) & (DRV_ENCL_CREATED | DRV_ENCL_INITIALIZED)) != DRV_ENCL_CREATED)
		return -EINVAL;
	if (u->copy_from(u->ctx, &init, arg, sizeof(init)))
		return -EFAULT;
	sig = malloc(sizeof(*sig));
	if (!sig)
		return -ENOMEM;
	if (u->copy_from(u->ctx, sig, init.sigstruct, sizeof(*sig))) {
		ret = -EFAULT;
		goto out;
	}
	/* A legacy field of Intel-signed enclaves: 0 or 0x8086 only. */
	if (sig->header.vendor != 0 && sig->header.vendor != 0x8086) {
		ret = -EINVAL;
		goto out;
	}
	/* Attributes (provisioning, launch) not explicitly allowed. */
	if (e->attributes & ~e->attributes_mask) {
		ret = -EACCES;
		goto out;
	}
	/* What the SIGSTRUCT enforces must not be reserved on this processor. */
	if ((sig->body.attributes & sig->body.attributes_mask & drv->attributes_reserved) ||
	    (sig->body.miscselect & sig->body.misc_mask & drv->misc_reserved) ||
	    (sig->body.xfrm & sig->body.xfrm_mask & drv->xfrm_reserved)) {
		ret = -EINVAL;
		goto out;
	}
	/* The launch-key hash, a zeroed token and EINIT's retries. */
	ret = sgx_encl_init(e->encl, sig, NULL, NULL);
	if (!ret)
		set_flag(e, DRV_ENCL_INITIALIZED);
out:
	free(sig);
	return ret;
}

/* --- PROVISION: sgx_ioc_enclave_provision(), sgx_set_attribute() --------- */

/* Takes effect only between CREATE (which sets the mask) and INIT (which
 * reads it), as in the kernel, which does not check the state. */
static long ioc_provision(struct sgx_drv_encl *e, uint64_t arg, const struct sgx_drv_user *u)
{
	struct sgx_enclave_provision prov;

	if (u->copy_from(u->ctx, &prov, arg, sizeof(prov)))
		return -EFAULT;
	if (!u->is_provision_fd || !u->is_provision_fd(u->ctx, prov.fd))
		return -EINVAL;
	e->attributes_mask |= SGX_ATTR_PROVISIONKEY;
	return 0;
}

long sgx_drv_ioctl(struct sgx_drv_encl *e, uint32_t cmd, uint64_t arg,
		   const struct sgx_drv_user *u)
{
	long ret;

	atomic_fetch_add(&e->drv->ioctls, 1);
	if (atomic_flag_test_and_set(&e->in_ioctl)) {
		atomic_fetch_add(&e->drv->ioctl_busy, 1);
		return -EBUSY;
	}
	switch (cmd) {
	case SGX_IOC_ENCLAVE_CREATE:
		ret = ioc_create(e, arg, u);
		break;
	case SGX_IOC_ENCLAVE_ADD_PAGES:
		ret = ioc_add_pages(e, arg, u);
		break;
	case SGX_IOC_ENCLAVE_INIT:
		ret = ioc_init(e, arg, u);
		break;
	case SGX_IOC_ENCLAVE_PROVISION:
		ret = ioc_provision(e, arg, u);
		break;
	case SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS:
	case SGX_IOC_ENCLAVE_MODIFY_TYPES:
	case SGX_IOC_ENCLAVE_REMOVE_PAGES:
		/* Each handler's first check: no SGX2 on this processor. */
		ret = -ENODEV;
		break;
	default:
		/* -ENOIOCTLCMD, which the VFS turns into -ENOTTY. */
		ret = -ENOTTY;
		break;
	}
	atomic_flag_clear(&e->in_ioctl);
	return ret;
}
