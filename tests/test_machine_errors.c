/*
 * test_machine_errors.c: every bad-input row of reference/linux-sgx.md for
 * CREATE, ADD_PAGES, INIT, PROVISION, the SGX2 ioctls and unknown
 * commands, through the runtime's calls against a private machine, as one
 * table: each row puts a fresh enclave file in a state (opened, created,
 * with pages, initialized), makes one call and compares its errno (and,
 * where the row says so, the count written back) with the kernel's.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "machine_helpers.h"

/* Enclave of 16 pages; "with pages" has pages 0..3 (page 0 measured). */
#define T_PAGES 16
#define T_SIZE (T_PAGES * SGX_PAGE_SIZE)
#define T_BASE (T_SIZE * 8)
#define T_REG (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)

enum t_state { T_OPEN, T_CREATED, T_ADDED, T_INIT };

struct t_ctx {
	int fd;
	uint8_t *src; /* T_PAGES pages of contents */
	void *unmapped; /* a page-aligned address where nothing is ever mapped */
	void *noexec; /* a page of a file on a noexec mount, or NULL */
	void *below_noexec; /* the unmapped page just below it */
	int prov; /* an open /dev/sgx_provision */
	uint64_t count; /* ADD_PAGES' count as written back */
};

static struct t_ctx T;

static int t_add(uint64_t src_off, uint64_t offset, uint64_t len, uint64_t secinfo)
{
	return mh_add(T.fd, T.src + src_off, offset, len, 0, secinfo, &T.count);
}

/* Puts T.fd, a new enclave file, in state s; with attributes for CREATE
 * (0: MODE64BIT | DEBUG). */
static void t_prepare_attr(enum t_state s, uint64_t attributes)
{
	struct sgx_secs secs;
	struct sgx_sigstruct sig;
	struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)&sig };

	T.fd = mh_open();
	if (s == T_OPEN)
		return;
	mh_secs(&secs, T_SIZE, T_BASE);
	if (attributes)
		secs.attributes = attributes;
	CHECK_EQ(mh_create(T.fd, &secs), 0);
	if (s == T_CREATED)
		return;
	CHECK_EQ(mh_add(T.fd, T.src, 0, SGX_PAGE_SIZE, SGX_PAGE_MEASURE, T_REG, NULL), 0);
	CHECK_EQ(t_add(SGX_PAGE_SIZE, SGX_PAGE_SIZE, 3 * SGX_PAGE_SIZE, T_REG), 0);
	if (s == T_ADDED)
		return;
	mh_sign(1, T_SIZE, 4, 0, secs.attributes, &sig);
	CHECK_EQ(mh_ioctl(T.fd, SGX_IOC_ENCLAVE_INIT, &in), 0);
}

static void t_prepare(enum t_state s)
{
	t_prepare_attr(s, 0);
}

/* The enclave as signed by mh_sign(): pages 0..3 of tag 1. */
static void t_sig(struct sgx_sigstruct *sig, uint64_t attributes)
{
	mh_sign(1, T_SIZE, 4, 0, attributes ? attributes : SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG,
		sig);
}

static int t_init(const struct sgx_sigstruct *sig)
{
	struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)sig };

	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_INIT, &in);
}

static int t_provision(int fd)
{
	struct sgx_enclave_provision p = { .fd = (uint64_t)fd };

	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_PROVISION, &p);
}

/* --- CREATE ----------------------------------------------------------------- */

static int create_twice(void)
{
	struct sgx_secs secs;

	t_prepare(T_CREATED);
	mh_secs(&secs, T_SIZE, T_BASE);
	return mh_create(T.fd, &secs);
}

static int create_bad_arg(void)
{
	t_prepare(T_OPEN);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_CREATE, T.unmapped);
}

static int create_bad_secs(void)
{
	struct sgx_enclave_create c = { .src = (uint64_t)(uintptr_t)T.unmapped };

	t_prepare(T_OPEN);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_CREATE, &c);
}

static int create_size_not_pow2(void)
{
	struct sgx_secs secs;

	t_prepare(T_OPEN);
	mh_secs(&secs, 3 * SGX_PAGE_SIZE, T_BASE);
	return mh_create(T.fd, &secs);
}

static int create_ecreate_faults(void)
{
	struct sgx_secs secs;

	t_prepare(T_OPEN);
	/* A base not aligned to the size: ECREATE's #GP. */
	mh_secs(&secs, T_SIZE, T_BASE + SGX_PAGE_SIZE);
	return mh_create(T.fd, &secs);
}

/* --- ADD_PAGES ------------------------------------------------------------- */

static int add_not_created(void)
{
	t_prepare(T_OPEN);
	return t_add(0, 0, SGX_PAGE_SIZE, T_REG);
}

static int add_initialized(void)
{
	t_prepare(T_INIT);
	return t_add(0, 8 * SGX_PAGE_SIZE, SGX_PAGE_SIZE, T_REG);
}

static int add_bad_arg(void)
{
	t_prepare(T_CREATED);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, T.unmapped);
}

static int add_src_unaligned(void)
{
	t_prepare(T_CREATED);
	return t_add(8, 0, SGX_PAGE_SIZE, T_REG);
}

static int add_offset_unaligned(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 8, SGX_PAGE_SIZE, T_REG);
}

static int add_length_unaligned(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, 100, T_REG);
}

static int add_length_zero(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, 0, T_REG);
}

static int add_overflow(void)
{
	t_prepare(T_CREATED);
	return t_add(0, -(uint64_t)SGX_PAGE_SIZE, 2 * SGX_PAGE_SIZE, T_REG);
}

static int add_past_end(void)
{
	t_prepare(T_CREATED);
	return t_add(0, (T_PAGES - 1) * SGX_PAGE_SIZE, 2 * SGX_PAGE_SIZE, T_REG);
}

static int add_bad_secinfo_ptr(void)
{
	struct sgx_enclave_add_pages a = { .src = (uint64_t)(uintptr_t)T.src, .offset = 0,
					   .length = SGX_PAGE_SIZE,
					   .secinfo = (uint64_t)(uintptr_t)T.unmapped };

	t_prepare(T_CREATED);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);
}

static int add_type_secs(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, SGX_SECINFO_SECS | SGX_SECINFO_R);
}

static int add_type_va(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, SGX_SECINFO_VA);
}

static int add_type_trim(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, SGX_SECINFO_TRIM);
}

static int add_w_without_r(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, SGX_SECINFO_REG | SGX_SECINFO_W);
}

static int add_tcs_with_perms(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, SGX_SECINFO_TCS | SGX_SECINFO_R);
}

static int add_flags_reserved(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, T_REG | SGX_SECINFO_PENDING);
}

static int add_flags_high_reserved(void)
{
	t_prepare(T_CREATED);
	return t_add(0, 0, SGX_PAGE_SIZE, T_REG | (1ULL << 40));
}

static int add_secinfo_reserved_bytes(void)
{
	static struct sgx_secinfo si;
	struct sgx_enclave_add_pages a = { .src = (uint64_t)(uintptr_t)T.src, .offset = 0,
					   .length = SGX_PAGE_SIZE,
					   .secinfo = (uint64_t)(uintptr_t)&si };

	t_prepare(T_CREATED);
	memset(&si, 0, sizeof(si));
	si.flags = T_REG;
	si.reserved[55] = 1;
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);
}

/* Pages 0..3 are there: adding 3..4 stops at once, count 0. */
static int add_already_added(void)
{
	t_prepare(T_ADDED);
	return t_add(0, 3 * SGX_PAGE_SIZE, 2 * SGX_PAGE_SIZE, T_REG);
}

/* The second page of the range is there: count says one page went in. */
static int add_busy_after_one(void)
{
	t_prepare(T_ADDED);
	CHECK_EQ(t_add(0, 5 * SGX_PAGE_SIZE, SGX_PAGE_SIZE, T_REG), 0);
	return t_add(0, 4 * SGX_PAGE_SIZE, 3 * SGX_PAGE_SIZE, T_REG);
}

static int add_src_unmapped(void)
{
	struct sgx_enclave_add_pages a;
	static struct sgx_secinfo si = { .flags = T_REG };
	int err;

	t_prepare(T_CREATED);
	memset(&a, 0, sizeof(a));
	a.src = (uint64_t)(uintptr_t)T.unmapped;
	a.length = SGX_PAGE_SIZE;
	a.secinfo = (uint64_t)(uintptr_t)&si;
	err = mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);
	T.count = a.count;
	return err;
}

/* Above every mapping of the process: find_vma() finds none. */
static int add_src_above_all_mappings(void)
{
	struct sgx_enclave_add_pages a;
	static struct sgx_secinfo si = { .flags = T_REG };
	int err;

	t_prepare(T_CREATED);
	memset(&a, 0, sizeof(a));
	a.src = 0x7ffffffff000ULL;
	a.length = SGX_PAGE_SIZE;
	a.secinfo = (uint64_t)(uintptr_t)&si;
	err = mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);
	T.count = a.count;
	return err;
}

/* The second source page is a hole below an anonymous page (which
 * find_vma() finds, and which may be executed): one page goes in, then the
 * read fails, EFAULT. */
static int add_src_partly_unmapped(void)
{
	uint8_t *p = mmap(NULL, 3 * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sgx_enclave_add_pages a;
	static struct sgx_secinfo si = { .flags = T_REG };
	int err;

	CHECK(p != MAP_FAILED);
	CHECK_EQ(munmap(p + SGX_PAGE_SIZE, SGX_PAGE_SIZE), 0);
	t_prepare(T_CREATED);
	memset(&a, 0, sizeof(a));
	a.src = (uint64_t)(uintptr_t)p;
	a.length = 2 * SGX_PAGE_SIZE;
	a.secinfo = (uint64_t)(uintptr_t)&si;
	err = mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);
	T.count = a.count;
	munmap(p, 3 * SGX_PAGE_SIZE);
	return err;
}

/* A readable mapping that is PROT_NONE: VM_MAYEXEC is there, the read
 * fails (get_user_pages): EFAULT. */
static int add_src_prot_none(void)
{
	void *p = mmap(NULL, SGX_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	CHECK(p != MAP_FAILED);
	t_prepare(T_CREATED);
	err = mh_add(T.fd, p, 0, SGX_PAGE_SIZE, 0, T_REG, &T.count);
	munmap(p, SGX_PAGE_SIZE);
	return err;
}

static int add_src_noexec(void)
{
	if (!T.noexec)
		return -1;
	t_prepare(T_CREATED);
	return mh_add(T.fd, T.noexec, 0, SGX_PAGE_SIZE, 0, T_REG, &T.count);
}

/* find_vma() of a hole returns the mapping above it, whose VM_MAYEXEC
 * decides: EACCES, though nothing is mapped at src. */
static int add_src_hole_below_noexec(void)
{
	if (!T.noexec)
		return -1;
	t_prepare(T_CREATED);
	return mh_add(T.fd, T.below_noexec, 0, SGX_PAGE_SIZE, 0, T_REG, &T.count);
}

/* EADD refuses a TCS with reserved bytes set (#GP): EIO, nothing added. */
static int add_eadd_faults(void)
{
	uint8_t *tcs = mh_pages(0, 1);
	int err;

	memset(tcs, 0, SGX_PAGE_SIZE);
	((struct sgx_tcs *)tcs)->nr_ssa_frames = 1;
	((struct sgx_tcs *)tcs)->reserved[0] = 1;
	t_prepare(T_CREATED);
	err = mh_add(T.fd, tcs, 0, SGX_PAGE_SIZE, 0, SGX_SECINFO_TCS, &T.count);
	munmap(tcs, SGX_PAGE_SIZE);
	return err;
}

/* count cannot be written back (the argument is read-only): EFAULT,
 * though the pages went in. */
static int add_count_not_writable(void)
{
	static struct sgx_secinfo si = { .flags = T_REG };
	struct sgx_enclave_add_pages *a = mmap(NULL, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	CHECK(a != MAP_FAILED);
	t_prepare(T_CREATED);
	a->src = (uint64_t)(uintptr_t)T.src;
	a->offset = 0;
	a->length = 2 * SGX_PAGE_SIZE;
	a->secinfo = (uint64_t)(uintptr_t)&si;
	CHECK_EQ(mprotect(a, SGX_PAGE_SIZE, PROT_READ), 0);
	err = mh_ioctl(T.fd, SGX_IOC_ENCLAVE_ADD_PAGES, a);
	munmap(a, SGX_PAGE_SIZE);
	/* The pages are in: adding page 0 again is EBUSY. */
	CHECK_EQ(t_add(0, 0, SGX_PAGE_SIZE, T_REG), EBUSY);
	return err;
}

/* --- INIT ------------------------------------------------------------------- */

static int init_not_created(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_OPEN);
	t_sig(&sig, 0);
	return t_init(&sig);
}

static int init_twice(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_INIT);
	t_sig(&sig, 0);
	return t_init(&sig);
}

static int init_bad_arg(void)
{
	t_prepare(T_ADDED);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_INIT, T.unmapped);
}

static int init_bad_sigstruct(void)
{
	struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)T.unmapped };

	t_prepare(T_ADDED);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_INIT, &in);
}

static int init_bad_vendor(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_ADDED);
	t_sig(&sig, 0);
	sig.header.vendor = 1;
	return t_init(&sig);
}

static int init_provisionkey_without_provision(void)
{
	uint64_t attr = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG | SGX_ATTR_PROVISIONKEY;
	struct sgx_sigstruct sig;

	t_prepare_attr(T_ADDED, attr);
	t_sig(&sig, attr);
	return t_init(&sig);
}

static int init_einittokenkey(void)
{
	uint64_t attr = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG | SGX_ATTR_EINITTOKENKEY;
	struct sgx_sigstruct sig;

	t_prepare_attr(T_ADDED, attr);
	CHECK_EQ(t_provision(T.prov), 0);
	t_sig(&sig, attr);
	return t_init(&sig);
}

static int init_reserved_attribute(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_ADDED);
	t_sig(&sig, 0);
	sig.body.attributes |= 1ULL << 3;
	sig.body.attributes_mask |= 1ULL << 3;
	return t_init(&sig);
}

static int init_reserved_misc(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_ADDED);
	t_sig(&sig, 0);
	sig.body.miscselect |= 1U << 1;
	sig.body.misc_mask |= 1U << 1;
	return t_init(&sig);
}

static int init_reserved_xfrm(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_ADDED);
	t_sig(&sig, 0);
	sig.body.xfrm |= SGX_XFRM_BNDREGS;
	sig.body.xfrm_mask |= SGX_XFRM_BNDREGS;
	return t_init(&sig);
}

/* A SIGSTRUCT of another enclave: EINIT's SGX_INVALID_MEASUREMENT. */
static int init_einit_refuses(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_ADDED);
	mh_sign(2, T_SIZE, 4, 0, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG, &sig);
	return t_init(&sig);
}

static int init_bad_signature(void)
{
	struct sgx_sigstruct sig;

	t_prepare(T_ADDED);
	t_sig(&sig, 0);
	sig.signature[7] ^= 1;
	return t_init(&sig);
}

/* --- PROVISION ------------------------------------------------------------- */

static int provision_bad_arg(void)
{
	t_prepare(T_CREATED);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_PROVISION, T.unmapped);
}

static int provision_enclave_fd(void)
{
	int other = mh_open(), err;

	t_prepare(T_CREATED);
	err = t_provision(other);
	sgxrt_close(other);
	return err;
}

static int provision_other_file(void)
{
	int null = open("/dev/null", O_RDONLY), err;

	t_prepare(T_CREATED);
	err = t_provision(null);
	close(null);
	return err;
}

static int provision_closed_fd(void)
{
	t_prepare(T_CREATED);
	return t_provision(1000);
}

/* The capability works: PROVISIONKEY after PROVISION. */
static int provision_then_init(void)
{
	uint64_t attr = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG | SGX_ATTR_PROVISIONKEY;
	struct sgx_sigstruct sig;

	t_prepare_attr(T_ADDED, attr);
	CHECK_EQ(t_provision(T.prov), 0);
	t_sig(&sig, attr);
	return t_init(&sig);
}

/* Before CREATE it is accepted but lost: CREATE sets the mask. */
static int provision_before_create(void)
{
	uint64_t attr = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG | SGX_ATTR_PROVISIONKEY;
	struct sgx_sigstruct sig;
	struct sgx_secs secs;

	t_prepare(T_OPEN);
	CHECK_EQ(t_provision(T.prov), 0);
	mh_secs(&secs, T_SIZE, T_BASE);
	secs.attributes = attr;
	CHECK_EQ(mh_create(T.fd, &secs), 0);
	CHECK_EQ(mh_add(T.fd, T.src, 0, SGX_PAGE_SIZE, SGX_PAGE_MEASURE, T_REG, NULL), 0);
	CHECK_EQ(t_add(SGX_PAGE_SIZE, SGX_PAGE_SIZE, 3 * SGX_PAGE_SIZE, T_REG), 0);
	t_sig(&sig, attr);
	return t_init(&sig);
}

/* After INIT it is accepted and changes nothing. */
static int provision_after_init(void)
{
	t_prepare(T_INIT);
	return t_provision(T.prov);
}

/* --- SGX2, unknown commands, other descriptors ---------------------------- */

static int sgx2_restrict(void)
{
	struct sgx_enclave_restrict_permissions a;

	memset(&a, 0, sizeof(a));
	t_prepare(T_INIT);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &a);
}

static int sgx2_modify_types(void)
{
	struct sgx_enclave_modify_types a;

	memset(&a, 0, sizeof(a));
	t_prepare(T_INIT);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_MODIFY_TYPES, &a);
}

static int sgx2_remove_pages(void)
{
	struct sgx_enclave_remove_pages a;

	memset(&a, 0, sizeof(a));
	t_prepare(T_INIT);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, &a);
}

/* Loaders probe before CREATE with zeroed arguments. */
static int sgx2_probe_before_create(void)
{
	struct sgx_enclave_remove_pages a;

	memset(&a, 0, sizeof(a));
	t_prepare(T_OPEN);
	return mh_ioctl(T.fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, &a);
}

static int unknown_command(void)
{
	t_prepare(T_CREATED);
	return mh_ioctl(T.fd, _IO(SGX_MAGIC, 0x20), NULL);
}

static int unknown_size_variant(void)
{
	struct sgx_enclave_create c = { 0 };

	t_prepare(T_OPEN);
	/* CREATE's number with another size is another command. */
	return mh_ioctl(T.fd, _IOW(SGX_MAGIC, 0x00, uint32_t), &c);
}

static int vepc_remove_all_on_enclave(void)
{
	t_prepare(T_CREATED);
	return mh_ioctl(T.fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);
}

static int ioctl_on_provision(void)
{
	struct sgx_secs secs;
	struct sgx_enclave_create c = { .src = (uint64_t)(uintptr_t)&secs };

	t_prepare(T_OPEN);
	mh_secs(&secs, T_SIZE, T_BASE);
	return mh_ioctl(T.prov, SGX_IOC_ENCLAVE_CREATE, &c);
}

static int ioctl_closed_fd(void)
{
	t_prepare(T_OPEN);
	return mh_ioctl(1001, SGX_IOC_ENCLAVE_CREATE, NULL);
}

static int ioctl_not_sgx(void)
{
	int null = open("/dev/null", O_RDONLY), err;

	t_prepare(T_OPEN);
	err = mh_ioctl(null, SGX_IOC_ENCLAVE_CREATE, T.src);
	close(null);
	return err;
}

/* --- The table -------------------------------------------------------------- */

/* count_want: the count ADD_PAGES wrote back (-1: not looked at). */
static const struct t_row {
	const char *name;
	int (*fn)(void);
	int want;
	int64_t count_want;
} rows[] = {
	{ "CREATE after CREATE", create_twice, EINVAL, -1 },
	{ "CREATE arg unmapped", create_bad_arg, EFAULT, -1 },
	{ "CREATE SECS unmapped", create_bad_secs, EFAULT, -1 },
	{ "CREATE size not a power of 2", create_size_not_pow2, EINVAL, -1 },
	{ "CREATE ECREATE faults (base unaligned)", create_ecreate_faults, EIO, -1 },
	{ "ADD_PAGES before CREATE", add_not_created, EINVAL, 0xdead },
	{ "ADD_PAGES after INIT", add_initialized, EINVAL, 0xdead },
	{ "ADD_PAGES arg unmapped", add_bad_arg, EFAULT, -1 },
	{ "ADD_PAGES src unaligned", add_src_unaligned, EINVAL, 0xdead },
	{ "ADD_PAGES offset unaligned", add_offset_unaligned, EINVAL, 0xdead },
	{ "ADD_PAGES length unaligned", add_length_unaligned, EINVAL, 0xdead },
	{ "ADD_PAGES length 0", add_length_zero, EINVAL, 0xdead },
	{ "ADD_PAGES offset+length overflows", add_overflow, EINVAL, 0xdead },
	{ "ADD_PAGES past the end", add_past_end, EINVAL, 0xdead },
	{ "ADD_PAGES secinfo unmapped", add_bad_secinfo_ptr, EFAULT, -1 },
	{ "ADD_PAGES type SECS", add_type_secs, EINVAL, 0xdead },
	{ "ADD_PAGES type VA", add_type_va, EINVAL, 0xdead },
	{ "ADD_PAGES type TRIM", add_type_trim, EINVAL, 0xdead },
	{ "ADD_PAGES W without R", add_w_without_r, EINVAL, 0xdead },
	{ "ADD_PAGES TCS with permissions", add_tcs_with_perms, EINVAL, 0xdead },
	{ "ADD_PAGES secinfo flag PENDING", add_flags_reserved, EINVAL, 0xdead },
	{ "ADD_PAGES secinfo flag bit 40", add_flags_high_reserved, EINVAL, 0xdead },
	{ "ADD_PAGES secinfo reserved byte", add_secinfo_reserved_bytes, EINVAL, -1 },
	{ "ADD_PAGES offset already added", add_already_added, EBUSY, 0 },
	{ "ADD_PAGES busy after one page", add_busy_after_one, EBUSY, SGX_PAGE_SIZE },
	{ "ADD_PAGES src unmapped", add_src_unmapped, EFAULT, 0 },
	{ "ADD_PAGES src above every mapping", add_src_above_all_mappings, EFAULT, 0 },
	{ "ADD_PAGES second src page unmapped", add_src_partly_unmapped, EFAULT,
	  SGX_PAGE_SIZE },
	{ "ADD_PAGES src PROT_NONE", add_src_prot_none, EFAULT, 0 },
	{ "ADD_PAGES src on a noexec mount", add_src_noexec, EACCES, 0 },
	{ "ADD_PAGES src in a hole below noexec", add_src_hole_below_noexec, EACCES, 0 },
	{ "ADD_PAGES EADD faults (TCS reserved)", add_eadd_faults, EIO, 0 },
	{ "ADD_PAGES count not writable", add_count_not_writable, EFAULT, -1 },
	{ "INIT before CREATE", init_not_created, EINVAL, -1 },
	{ "INIT after INIT", init_twice, EINVAL, -1 },
	{ "INIT arg unmapped", init_bad_arg, EFAULT, -1 },
	{ "INIT SIGSTRUCT unmapped", init_bad_sigstruct, EFAULT, -1 },
	{ "INIT vendor 1", init_bad_vendor, EINVAL, -1 },
	{ "INIT PROVISIONKEY without PROVISION", init_provisionkey_without_provision, EACCES,
	  -1 },
	{ "INIT EINITTOKENKEY", init_einittokenkey, EACCES, -1 },
	{ "INIT reserved attribute enforced", init_reserved_attribute, EINVAL, -1 },
	{ "INIT reserved MISCSELECT enforced", init_reserved_misc, EINVAL, -1 },
	{ "INIT reserved XFRM enforced", init_reserved_xfrm, EINVAL, -1 },
	{ "INIT EINIT refuses (measurement)", init_einit_refuses, EPERM, -1 },
	{ "INIT EINIT refuses (signature)", init_bad_signature, EPERM, -1 },
	{ "PROVISION arg unmapped", provision_bad_arg, EFAULT, -1 },
	{ "PROVISION fd of an enclave", provision_enclave_fd, EINVAL, -1 },
	{ "PROVISION fd of /dev/null", provision_other_file, EINVAL, -1 },
	{ "PROVISION fd not open", provision_closed_fd, EINVAL, -1 },
	{ "PROVISION then INIT with PROVISIONKEY", provision_then_init, 0, -1 },
	{ "PROVISION before CREATE is lost", provision_before_create, EACCES, -1 },
	{ "PROVISION after INIT", provision_after_init, 0, -1 },
	{ "RESTRICT_PERMISSIONS (no SGX2)", sgx2_restrict, ENODEV, -1 },
	{ "MODIFY_TYPES (no SGX2)", sgx2_modify_types, ENODEV, -1 },
	{ "REMOVE_PAGES (no SGX2)", sgx2_remove_pages, ENODEV, -1 },
	{ "REMOVE_PAGES probe before CREATE", sgx2_probe_before_create, ENODEV, -1 },
	{ "unknown command", unknown_command, ENOTTY, -1 },
	{ "CREATE's number with another size", unknown_size_variant, ENOTTY, -1 },
	{ "VEPC_REMOVE_ALL on an enclave", vepc_remove_all_on_enclave, ENOTTY, -1 },
	{ "ioctl on /dev/sgx_provision", ioctl_on_provision, ENOTTY, -1 },
	{ "ioctl on a closed fd", ioctl_closed_fd, EBADF, -1 },
	{ "SGX ioctl on /dev/null", ioctl_not_sgx, ENOTTY, -1 },
};

/* A private mount namespace with a noexec tmpfs holding one page, mapped
 * with a hole below it; left NULL (those rows skipped) where mounting is
 * not allowed. */
static void t_noexec_setup(void)
{
	char dir[] = "/tmp/sgxemu-noexec-XXXXXX", file[64];
	uint8_t *range;
	int fd;

	if (!mkdtemp(dir))
		return;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("none", dir, "tmpfs", MS_NOEXEC, "size=64k")) {
		printf("    (no noexec mount here: %s; its rows are skipped)\n", strerror(errno));
		rmdir(dir);
		return;
	}
	snprintf(file, sizeof(file), "%s/page", dir);
	fd = open(file, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, SGX_PAGE_SIZE), 0);
	range = mmap(NULL, 2 * SGX_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(range != MAP_FAILED);
	CHECK(mmap(range + SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) !=
	      MAP_FAILED);
	CHECK_EQ(munmap(range, SGX_PAGE_SIZE), 0);
	close(fd);
	T.noexec = range + SGX_PAGE_SIZE;
	T.below_noexec = range;
}

TEST(every_bad_input_row_gets_the_kernels_errno)
{
	int failed = 0;

	mh_start_ex("2M", NULL);
	T.src = mh_pages(1, T_PAGES);
	/* Below mmap_min_addr: never mapped, whatever the rows map later. */
	T.unmapped = (void *)0x1000;
	T.prov = sgxrt_open("/dev/sgx_provision", O_RDWR);
	CHECK(T.prov >= 0);
	t_noexec_setup();
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct t_row *r = &rows[i];
		int got;

		T.count = 0xdead;
		got = r->fn();
		if (got < 0) {
			printf("    skip  %-44s\n", r->name);
			continue;
		}
		if (got != r->want || (r->count_want >= 0 && T.count != (uint64_t)r->count_want)) {
			printf("    FAIL  %-44s errno %d (%s), want %d (%s); count %#llx, want %#llx\n",
			       r->name, got, strerror(got), r->want, strerror(r->want),
			       (unsigned long long)T.count, (unsigned long long)r->count_want);
			failed++;
		} else {
			printf("    ok    %-44s %s\n", r->name, r->want ? strerror(r->want) : "0");
		}
		CHECK_EQ(sgxrt_close(T.fd), 0);
	}
	CHECK_EQ(sgxrt_close(T.prov), 0);
	CHECK_EQ(failed, 0);
	mh_finish();
}

/* --- Rows that need a second thread: signals and concurrent calls ---------- */

struct t_adder {
	pthread_t thread;
	int fd;
	const uint8_t *src;
	uint64_t len;
	int err;
	uint64_t count;
	atomic_bool connected; /* the thread's connection is made */
	atomic_bool go;
	atomic_bool done;
};

static void *t_adder_run(void *arg)
{
	struct t_adder *a = arg;
	struct sgxp_machine_stats st;

	/* The connection first, so that the call below is the only one. */
	CHECK_EQ(sgxrt_machine_stats(&st, 0), 0);
	atomic_store(&a->connected, true);
	while (!atomic_load(&a->go))
		usleep(1000);
	a->err = mh_add(a->fd, a->src, 0, a->len, 0, T_REG, &a->count);
	atomic_store(&a->done, true);
	return NULL;
}

static void t_adder_start(struct t_adder *a, int fd, const uint8_t *src, uint64_t len)
{
	memset(a, 0, sizeof(*a));
	a->fd = fd;
	a->src = src;
	a->len = len;
	CHECK_EQ(pthread_create(&a->thread, NULL, t_adder_run, a), 0);
	while (!atomic_load(&a->connected))
		usleep(1000);
}

/* Written by the handler in the calling thread, read by the main one. */
static atomic_int t_hits;

static void t_on_usr1(int sig)
{
	(void)sig;
	t_hits++;
}

static void t_handler(bool restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = t_on_usr1;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	t_hits = 0;
}

static int t_created_fd(uint64_t size)
{
	struct sgx_secs secs;
	int fd = mh_open();

	mh_secs(&secs, size, size * 4);
	CHECK_EQ(mh_create(fd, &secs), 0);
	return fd;
}

/*
 * A signal that reaches the caller before the machine began: the machine
 * is stopped (SIGSTOP) while the call and the signal's CANCEL queue up,
 * so that the first signal_pending() check, before page 0, sees it.
 */
static void t_signal_before_first_page(bool restart, int want, uint64_t want_count)
{
	struct sgxp_machine_stats st;
	struct t_adder a;
	uint8_t *src = mh_pages(3, 4);
	pid_t mpid;
	int fd, status;

	mh_start();
	t_handler(restart);
	fd = t_created_fd(T_SIZE);
	mh_stats(&st);
	mpid = (pid_t)st.machine_pid;
	t_adder_start(&a, fd, src, 4 * SGX_PAGE_SIZE);
	CHECK_EQ(kill(mpid, SIGSTOP), 0);
	CHECK_EQ(waitpid(mpid, &status, WUNTRACED), mpid);
	CHECK(WIFSTOPPED(status));
	atomic_store(&a.go, true);
	usleep(50000);
	CHECK_EQ(pthread_kill(a.thread, SIGUSR1), 0);
	usleep(50000);
	/* Held while the call waits: delivered when it returns. */
	CHECK_EQ(t_hits, 0);
	CHECK_EQ(kill(mpid, SIGCONT), 0);
	pthread_join(a.thread, NULL);
	CHECK_EQ(t_hits, 1);
	CHECK_EQ(a.err, want);
	CHECK_EQ(a.count, want_count);
	mh_stats(&st);
	CHECK_EQ(st.cancels, 1);
	/* Interrupted before page 0: nothing went in, so it can be added. */
	if (!want_count)
		CHECK_EQ(mh_add(fd, src, 0, 4 * SGX_PAGE_SIZE, 0, T_REG, NULL), 0);
	CHECK_EQ(mh_add(fd, src, 0, SGX_PAGE_SIZE, 0, T_REG, NULL), EBUSY);
	CHECK_EQ(sgxrt_close(fd), 0);
	munmap(src, 4 * SGX_PAGE_SIZE);
	mh_finish();
}

/* -ERESTARTSYS with a handler without SA_RESTART: EINTR, count 0. */
TEST(add_pages_signal_before_first_page_is_eintr)
{
	t_signal_before_first_page(false, EINTR, 0);
}

/* -ERESTARTSYS with SA_RESTART: the call is made again and completes. */
TEST(add_pages_signal_before_first_page_restarts_with_sa_restart)
{
	t_signal_before_first_page(true, 0, 4 * SGX_PAGE_SIZE);
}

#define T_BIG_PAGES 1500

/* Waits until the adder's enclave has some pages in (the LRU grows). */
static bool t_wait_started(struct t_adder *a, uint64_t lru0)
{
	struct sgxp_machine_stats st;

	do {
		CHECK_EQ(sgxrt_machine_stats(&st, 0), 0);
		if (st.lru_pages >= lru0 + 8)
			return true;
	} while (!atomic_load(&a->done));
	return false;
}

/* A signal after some pages: the call returns 0 with the pages made. */
TEST(add_pages_signal_later_gives_partial_count)
{
	uint8_t *src = mh_pages(4, T_BIG_PAGES);
	bool seen = false;

	mh_start_ex("16M", NULL);
	t_handler(false);
	for (int attempt = 0; attempt < 5 && !seen; attempt++) {
		struct t_adder a;
		int fd = t_created_fd(2048 * SGX_PAGE_SIZE);
		bool started;

		t_adder_start(&a, fd, src, T_BIG_PAGES * SGX_PAGE_SIZE);
		atomic_store(&a.go, true);
		started = t_wait_started(&a, 0);
		if (started)
			pthread_kill(a.thread, SIGUSR1);
		pthread_join(a.thread, NULL);
		CHECK_EQ(a.err, 0);
		if (started && a.count < T_BIG_PAGES * SGX_PAGE_SIZE) {
			seen = true;
			CHECK_CMP(a.count, >, 0);
			CHECK_EQ(a.count % SGX_PAGE_SIZE, 0);
			/* The next page is free, the last one made is not. */
			CHECK_EQ(mh_add(fd, src, a.count, SGX_PAGE_SIZE, 0, T_REG, NULL), 0);
			CHECK_EQ(mh_add(fd, src, a.count - SGX_PAGE_SIZE, SGX_PAGE_SIZE, 0, T_REG,
					NULL),
				 EBUSY);
		}
		CHECK_EQ(sgxrt_close(fd), 0);
	}
	CHECK_MSG(seen, "the call ended before the signal in every attempt");
	munmap(src, T_BIG_PAGES * SGX_PAGE_SIZE);
	mh_finish();
}

/* A second ioctl on the enclave while ADD_PAGES runs: EBUSY at once. */
TEST(concurrent_ioctl_on_one_enclave_is_ebusy)
{
	uint8_t *src = mh_pages(5, T_BIG_PAGES);
	bool seen = false;

	mh_start_ex("16M", NULL);
	for (int attempt = 0; attempt < 5 && !seen; attempt++) {
		struct sgx_enclave_remove_pages rp = { 0 };
		struct t_adder a;
		int fd = t_created_fd(2048 * SGX_PAGE_SIZE), err = -1;

		t_adder_start(&a, fd, src, T_BIG_PAGES * SGX_PAGE_SIZE);
		atomic_store(&a.go, true);
		if (t_wait_started(&a, 0))
			err = mh_ioctl(fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, &rp);
		if (err == EBUSY)
			seen = true;
		else if (err >= 0 && !atomic_load(&a.done))
			CHECK_EQ(err, EBUSY);
		pthread_join(a.thread, NULL);
		CHECK_EQ(a.err, 0);
		CHECK_EQ(a.count, T_BIG_PAGES * SGX_PAGE_SIZE);
		CHECK_EQ(sgxrt_close(fd), 0);
	}
	CHECK_MSG(seen, "the call ended before the second one in every attempt");
	munmap(src, T_BIG_PAGES * SGX_PAGE_SIZE);
	mh_finish();
}
