/*
 * mmap_rules.c: the enclave device's mapping rules (mmap_rules.h), after
 * the kernel's sgx_mmap() and sgx_encl_may_map() (driver.c, encl.c).
 */
#include <errno.h>
#include <linux/mman.h>
#include <sys/mman.h>

#include "driver/mmap_rules.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_TYPE
#define MAP_TYPE 0x0f
#endif

int sgx_mmap_check_flags(uint64_t len, unsigned long flags)
{
	unsigned long type = flags & MAP_TYPE;

	if (!len)
		return -EINVAL;
	if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	return 0;
}

int sgx_encl_may_map(struct sgx_encl *encl, uint64_t start, uint64_t end, unsigned int prot,
		     unsigned long personality)
{
	uint64_t base, size;

	if (end <= start)
		return -EINVAL;
	if (!encl)
		return (personality & SGX_READ_IMPLIES_EXEC) ? -EACCES : 0;
	base = sgx_encl_base(encl);
	size = sgx_encl_size(encl);
	/* After EINIT nothing outside ELRANGE may be mapped: the enclave's
	 * layout is final. */
	if (sgx_encl_initialized(encl) && (start < base || end > base + size))
		return -EACCES;
	/* A READ_IMPLIES_EXEC process would get PROT_EXEC with every
	 * PROT_READ, which the pages' permissions may not allow. */
	if (personality & SGX_READ_IMPLIES_EXEC)
		return -EACCES;
	if (end <= base || start >= base + size)
		return 0;
	if (start < base)
		start = base;
	if (end > base + size)
		end = base + size;
	return sgx_encl_may_map_pages(encl, start - base, end - start, prot);
}

int sgx_mremap_check(uint64_t old_len, uint64_t new_len, unsigned long flags)
{
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))
		return -EINVAL;
	if (new_len > old_len)
		return -EFAULT;
	return 0;
}
