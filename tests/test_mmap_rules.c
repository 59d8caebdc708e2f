/*
 * test_mmap_rules.c: the enclave device's mapping rules (driver/
 * mmap_rules.h) row by row, the pages' maximum permissions stored at EADD
 * (the kernel's vm_max_prot_bits) and reported in the page information,
 * and the core's exported fault call (sgx_encl_fault()): loaded, marked
 * young, or the error the toucher gets.  Every case ends with every frame
 * free and every charge returned.
 */
#include <linux/mman.h>
#include <sys/mman.h>

#include "core_helpers.h"
#include "driver/mmap_rules.h"

#define PAGE SGX_PAGE_SIZE

static struct sgx_core_config quiet_config(void)
{
	struct sgx_core_config cfg;

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true;
	return cfg;
}

/* An enclave of 16 pages: 0 R, 1 RW, 2 RX, 3 RWX, 4 TCS, the rest never
 * added; not initialized. */
static struct sgx_encl *perm_encl(struct sgx_core *core, uint64_t base)
{
	static const uint64_t flags[] = {
		SGX_SECINFO_REG | SGX_SECINFO_R,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X,
		SGX_SECINFO_TCS,
	};
	struct sgx_secinfo secinfo;
	struct sgx_secs secs;
	struct sgx_encl *encl;
	uint8_t page[PAGE];

	memset(&secs, 0, sizeof(secs));
	secs.size = 16 * PAGE;
	secs.base = base;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	secs.xfrm = SGX_XFRM_LEGACY;
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), 0);
	for (unsigned int i = 0; i < 5; i++) {
		memset(page, 0, sizeof(page));
		if (i == 4)
			((struct sgx_tcs *)page)->nr_ssa_frames = 1;
		else
			ch_fill(page, 7, i, 0);
		memset(&secinfo, 0, sizeof(secinfo));
		secinfo.flags = flags[i];
		CHECK_EQ(sgx_encl_add_page(encl, i * PAGE, page, &secinfo, 0), 0);
	}
	return encl;
}

TEST(max_prot_is_stored_at_eadd_and_reported)
{
	static const unsigned int want[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC, PROT_READ | PROT_WRITE,
	};
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_page_info info;
	struct sgx_encl *encl = perm_encl(core, 0x100000);

	for (unsigned int i = 0; i < 5; i++) {
		CHECK_EQ(sgx_encl_page_info(encl, i * PAGE, &info), 0);
		CHECK_MSG(info.max_prot == want[i], "page %u: max_prot %#x, want %#x", i,
			  info.max_prot, want[i]);
	}
	CHECK_EQ(sgx_encl_page_info(encl, 5 * PAGE, &info), 0);
	CHECK_EQ(info.present, 0);
	CHECK_EQ(info.max_prot, 0);
	sgx_encl_release(encl);
	ch_finish(core, cpu, fds);
}

TEST(mmap_flags_rows)
{
	static const struct {
		unsigned long flags;
		uint64_t len;
		int want;
	} rows[] = {
		{ MAP_SHARED, PAGE, 0 },
		{ MAP_SHARED | MAP_FIXED, PAGE, 0 },
		{ MAP_SHARED_VALIDATE, PAGE, 0 },
		{ MAP_SHARED | MAP_FIXED_NOREPLACE, PAGE, 0 },
		{ MAP_PRIVATE, PAGE, -EINVAL },
		{ MAP_PRIVATE | MAP_FIXED, PAGE, -EINVAL },
		{ MAP_PRIVATE | MAP_ANONYMOUS, PAGE, -EINVAL },
		{ 0, PAGE, -EINVAL },
		{ MAP_SHARED, 0, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int got = sgx_mmap_check_flags(rows[i].len, rows[i].flags);

		CHECK_MSG(got == rows[i].want, "row %zu (flags %#lx len %" PRIu64 "): %d, want %d",
			  i, rows[i].flags, rows[i].len, got, rows[i].want);
	}
}

TEST(may_map_rows)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	const uint64_t base = 0x200000;
	struct sgx_encl *encl = perm_encl(core, base);
	const unsigned int R = PROT_READ, W = PROT_WRITE, X = PROT_EXEC;
	const struct {
		const char *what;
		uint64_t start, end;
		unsigned int prot;
		unsigned long personality;
		int want;
	} rows[] = {
		{ "R over the R page", base, base + PAGE, R, 0, 0 },
		{ "RW over the R page", base, base + PAGE, R | W, 0, -EACCES },
		{ "X over the R page", base, base + PAGE, X, 0, -EACCES },
		{ "none over the R page", base, base + PAGE, 0, 0, 0 },
		{ "RW over the RW page", base + PAGE, base + 2 * PAGE, R | W, 0, 0 },
		{ "RX over the RW page", base + PAGE, base + 2 * PAGE, R | X, 0, -EACCES },
		{ "RX over the RX page", base + 2 * PAGE, base + 3 * PAGE, R | X, 0, 0 },
		{ "W over the RX page", base + 2 * PAGE, base + 3 * PAGE, W, 0, -EACCES },
		{ "RWX over the RWX page", base + 3 * PAGE, base + 4 * PAGE, R | W | X, 0, 0 },
		{ "RW over the TCS", base + 4 * PAGE, base + 5 * PAGE, R | W, 0, 0 },
		{ "X over the TCS", base + 4 * PAGE, base + 5 * PAGE, X, 0, -EACCES },
		{ "RWX over pages never added", base + 5 * PAGE, base + 16 * PAGE, R | W | X, 0, 0 },
		{ "R over all", base, base + 16 * PAGE, R, 0, 0 },
		{ "RW over all (the R page)", base, base + 16 * PAGE, R | W, 0, -EACCES },
		{ "RWX wider than the enclave, before INIT", base - PAGE, base + 17 * PAGE, 0, 0, 0 },
		{ "RWX outside the enclave, before INIT", base + 64 * PAGE, base + 65 * PAGE,
		  R | W | X, 0, 0 },
		{ "READ_IMPLIES_EXEC", base + PAGE, base + 2 * PAGE, R, SGX_READ_IMPLIES_EXEC,
		  -EACCES },
		{ "empty range", base, base, R, 0, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int got = sgx_encl_may_map(encl, rows[i].start, rows[i].end, rows[i].prot,
					   rows[i].personality);

		CHECK_MSG(got == rows[i].want, "%s: %d, want %d", rows[i].what, got, rows[i].want);
	}
	/* No enclave yet: everything but READ_IMPLIES_EXEC, as the probes
	 * loaders make before CREATE. */
	CHECK_EQ(sgx_encl_may_map(NULL, 0x1000, 0x2000, R, 0), 0);
	CHECK_EQ(sgx_encl_may_map(NULL, 0x1000, 0x2000, X, 0), 0);
	CHECK_EQ(sgx_encl_may_map(NULL, 0x1000, 0x2000, R, SGX_READ_IMPLIES_EXEC), -EACCES);
	sgx_encl_release(encl);
	ch_finish(core, cpu, fds);
}

TEST(may_map_after_init_refuses_outside_the_enclave)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct ch_encl e;

	CHECK_EQ(ch_build(core, 3, 4, 1, true, &e), 0);
	CHECK_EQ(sgx_encl_may_map(e.encl, e.base, e.base + e.size, PROT_READ | PROT_WRITE, 0), 0);
	CHECK_EQ(sgx_encl_may_map(e.encl, e.base - PAGE, e.base + PAGE, PROT_READ, 0), -EACCES);
	CHECK_EQ(sgx_encl_may_map(e.encl, e.base + e.size - PAGE, e.base + e.size + PAGE,
				  PROT_READ, 0), -EACCES);
	CHECK_EQ(sgx_encl_may_map(e.encl, e.base + e.size, e.base + e.size + PAGE, 0, 0),
		 -EACCES);
	CHECK_EQ(sgx_encl_may_map(e.encl, e.base, e.base + PAGE, PROT_EXEC, 0), -EACCES);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

TEST(mremap_rows)
{
	CHECK_EQ(sgx_mremap_check(2 * PAGE, 2 * PAGE, 0), 0);
	CHECK_EQ(sgx_mremap_check(2 * PAGE, PAGE, 0), 0);
	CHECK_EQ(sgx_mremap_check(2 * PAGE, PAGE, MREMAP_MAYMOVE), 0);
	CHECK_EQ(sgx_mremap_check(PAGE, 2 * PAGE, 0), -EFAULT);
	CHECK_EQ(sgx_mremap_check(PAGE, 2 * PAGE, MREMAP_MAYMOVE), -EFAULT);
	CHECK_EQ(sgx_mremap_check(PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED), -EINVAL);
	CHECK_EQ(sgx_mremap_check(PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP), -EINVAL);
}

TEST(fault_call_loads_marks_young_and_refuses)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_page_info info;
	enum sgx_encl_fault_how how = SGX_ENCL_FAULT_LOADED;
	struct sgx_encl *encl = perm_encl(core, 0x300000);
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	uint8_t page[PAGE];

	/* Resident: marked young. */
	CHECK_EQ(sgx_encl_fault(encl, PAGE, PROT_READ | PROT_WRITE, &how), 0);
	CHECK_EQ(how, SGX_ENCL_FAULT_YOUNG);
	CHECK_EQ(sgx_encl_page_info(encl, PAGE, &info), 0);
	CHECK_EQ(info.young, 1);
	/* Written back: loaded.  (The enclave must be initialized for
	 * write-back: build a second one.) */
	sgx_encl_release(encl);
	{
		struct ch_encl e;

		CHECK_EQ(ch_build(core, 4, 4, 1, true, &e), 0);
		CHECK_EQ(sgx_encl_evict(e.encl, 2 * PAGE), 0);
		CHECK_EQ(sgx_encl_page_info(e.encl, 2 * PAGE, &info), 0);
		CHECK_EQ(info.resident, 0);
		CHECK_EQ(sgx_encl_fault(e.encl, 2 * PAGE, PROT_READ, &how), 0);
		CHECK_EQ(how, SGX_ENCL_FAULT_LOADED);
		CHECK_EQ(sgx_encl_page_info(e.encl, 2 * PAGE, &info), 0);
		CHECK_EQ(info.resident, 1);
		CHECK_EQ(info.young, 1);
		/* The TCS: never for code outside. */
		CHECK_EQ(sgx_encl_fault(e.encl, ch_tcs_offset(&e, 0), PROT_READ, &how), -EPERM);
		/* A refused load: the backing page changed. */
		CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), 0);
		CHECK_EQ(sgx_encl_page_info(e.encl, 3 * PAGE, &info), 0);
		memset(page, 0xEE, 16);
		CHECK_EQ(pwrite(sgx_encl_backing_fd(e.encl), page, 16, (off_t)info.backing_offset),
			 16);
		CHECK_EQ(sgx_encl_fault(e.encl, 3 * PAGE, PROT_READ, &how), -EIO);
		CHECK_EQ(sgx_encl_fault(e.encl, 3 * PAGE, PROT_READ, &how), -EIO);
		CHECK_EQ(sgx_encl_fault(e.encl, e.size, PROT_READ, &how), -EINVAL);
		sgx_encl_release(e.encl);
	}
	encl = perm_encl(core, 0x300000);
	CHECK_EQ(sgx_encl_fault(encl, 0, PROT_READ | PROT_WRITE, &how), -EACCES);
	CHECK_EQ(sgx_encl_fault(encl, 2 * PAGE, PROT_READ | PROT_EXEC, &how), 0);
	CHECK_EQ(sgx_encl_fault(encl, 6 * PAGE, PROT_READ, &how), -EFAULT);
	/* Added later: the fault finds it. */
	ch_fill(page, 9, 6, 0);
	CHECK_EQ(sgx_encl_add_page(encl, 6 * PAGE, page, &secinfo, 0), 0);
	CHECK_EQ(sgx_encl_fault(encl, 6 * PAGE, PROT_READ | PROT_WRITE, NULL), 0);
	sgx_encl_release(encl);
	ch_finish(core, cpu, fds);
}
