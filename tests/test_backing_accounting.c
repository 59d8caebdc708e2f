/*
 * test_backing_accounting.c: backing storage and its accounting at the
 * enclave level: the kernel's layout of the backing object, a charge per
 * page written back plus one per PCMD page in use, uncharging on load and
 * on release, the machine-wide limit (a write-back that would pass it
 * leaves the page resident; an allocation that then cannot be served gets
 * -ENOMEM; a limit of 0 writes nothing back), VA pages that follow the
 * pages written back, the SECS written back after its last child, and a
 * memory failure in an enclave page reaching its owner as an error.
 *
 * Every case ends by checking that nothing is left: frames, EPCM entries,
 * charges, VA pages, and the backing objects' descriptors.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core_helpers.h"
#include "sgxemu/epc.h"

#define PAGE SGX_PAGE_SIZE

static struct sgx_core_config quiet_config(void)
{
	struct sgx_core_config cfg;

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true;
	return cfg;
}

static uint64_t charged(struct sgx_core *core)
{
	struct sgx_core_stats st;

	CHECK_EQ(sgx_core_stats(core, &st), 0);
	return st.backing_charged;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check_page(struct ch_encl *e, uint64_t index)
{
	uint8_t want[PAGE], got[PAGE];

	ch_fill(want, e->tag, index, 0);
	CHECK_EQ(sgx_encl_read(e->encl, index * PAGE, got, PAGE), 0);
	CHECK_MSG(memcmp(want, got, PAGE) == 0, "page %" PRIu64 " changed", index);
}

static void check_resident(struct ch_encl *e, uint64_t offset, bool resident)
{
	struct sgx_encl_page_info info;

	CHECK_EQ(sgx_encl_page_info(e->encl, offset, &info), 0);
	CHECK_EQ(info.present, 1);
	CHECK_EQ(info.resident, resident);
	CHECK_EQ(info.va_slot != NULL, !resident);
}

/* The kernel's layout: page i at i * 4096, the SECS at size, the PCMD of
 * page i at size + 4096 + 128 i; a PCMD page is charged with its first
 * record and uncharged with its last. */
TEST(layout_and_charges)
{
	struct sgx_core_config cfg = quiet_config();
	int fds = ch_count_fds();
	struct sgx_cpu *cpu = ch_machine(256);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_core_stats st;
	struct sgx_pcmd pcmd;
	struct ch_encl e;
	struct stat sb;
	uint8_t buf[PAGE];
	uint64_t secs_index, expect;
	int fd;

	CHECK_EQ(ch_build(core, 1, 64, 1, true, &e), 0);
	CHECK_EQ(e.size, 128 * PAGE);
	fd = sgx_encl_backing_fd(e.encl);
	CHECK_GE(fd, 0);
	CHECK_EQ(fstat(fd, &sb), 0);
	CHECK_EQ(sb.st_size, (e.size + PAGE) + (e.size + PAGE) / 32);
	CHECK_EQ(sgx_encl_backing_size(e.encl), (uint64_t)sb.st_size);
	CHECK_EQ(sgx_encl_backing_pcmd_offset(e.encl, 3), e.size + PAGE + 3 * 128);
	CHECK_EQ(charged(core), 0);

	CHECK_EQ(sgx_encl_evict(e.encl, 0), 0);
	check_resident(&e, 0, false);
	CHECK_EQ(charged(core), 2); /* the page and its PCMD page */
	CHECK_EQ(pread(fd, buf, PAGE, 0), (ssize_t)PAGE);
	CHECK(!all_zero(buf, PAGE));
	CHECK_EQ(pread(fd, &pcmd, sizeof(pcmd), (off_t)sgx_encl_backing_pcmd_offset(e.encl, 0)),
		 (ssize_t)sizeof(pcmd));
	CHECK_EQ((pcmd.secinfo.flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT,
		 SGX_PAGE_TYPE_REG);
	CHECK(!all_zero(pcmd.mac, sizeof(pcmd.mac)));

	CHECK_EQ(sgx_encl_evict(e.encl, 1 * PAGE), 0);
	CHECK_EQ(charged(core), 3); /* same PCMD page */
	CHECK_EQ(sgx_encl_evict(e.encl, 32 * PAGE), 0);
	CHECK_EQ(charged(core), 5); /* a second PCMD page */

	check_page(&e, 0);
	CHECK_EQ(charged(core), 4);
	/* Handing the object out releases what the loads left pending. */
	CHECK_EQ(sgx_encl_backing_fd(e.encl), fd);
	CHECK_EQ(pread(fd, buf, PAGE, 0), (ssize_t)PAGE);
	CHECK(all_zero(buf, PAGE)); /* punched out */
	CHECK_EQ(pread(fd, &pcmd, sizeof(pcmd), (off_t)sgx_encl_backing_pcmd_offset(e.encl, 0)),
		 (ssize_t)sizeof(pcmd));
	CHECK(all_zero(&pcmd, sizeof(pcmd)));
	check_page(&e, 1);
	CHECK_EQ(charged(core), 2); /* first PCMD page gone */
	CHECK_EQ(sgx_encl_backing_fd(e.encl), fd);
	CHECK_EQ(pread(fd, buf, PAGE, (off_t)(e.size + PAGE)), (ssize_t)PAGE);
	CHECK(all_zero(buf, PAGE));
	check_page(&e, 32);
	CHECK_EQ(charged(core), 0);

	/* Every child out: the SECS follows the last one. */
	for (uint64_t i = 0; i < 65; i++)
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.secs_written_back, 1);
	check_resident(&e, e.size, false);
	secs_index = e.size / PAGE;
	/* 65 children + SECS, PCMD pages for records 0-31, 32-63, 64, and the
	 * SECS's record (index 128, the fifth PCMD page). */
	expect = 65 + 1 + 3 + 1;
	CHECK_EQ(secs_index / 32, 4);
	CHECK_EQ(st.backing_charged, expect);
	CHECK_EQ(st.va_slots_used, 66);
	CHECK_EQ(st.pages_written_back, 3 + 65);

	check_page(&e, 7); /* loads the SECS, then the page */
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.secs_loaded, 1);
	check_resident(&e, e.size, true);
	CHECK_EQ(st.backing_charged, expect - 2 /* SECS + its PCMD page */ - 1 /* page 7 */);

	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/* At the limit the next write-back fails cleanly and the page stays
 * resident with its contents. */
TEST(limit_keeps_page_resident)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(256);
	struct sgx_core *core;
	struct sgx_core_stats st;
	struct ch_encl e;

	cfg.backing_limit = 5;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(sgx_core_backing_limit(core), 5);
	CHECK_EQ(ch_build(core, 2, 40, 0, true, &e), 0);
	for (uint64_t i = 0; i < 4; i++)
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
	CHECK_EQ(charged(core), 5); /* 4 pages + 1 PCMD page */
	CHECK_EQ(sgx_encl_evict(e.encl, 4 * PAGE), -ENOMEM);
	check_resident(&e, 4 * PAGE, true);
	/* A page of another PCMD page would need two. */
	CHECK_EQ(sgx_encl_evict(e.encl, 33 * PAGE), -ENOMEM);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.backing_limit_hits, 2);
	CHECK_EQ(st.backing_charged, 5);
	CHECK_EQ(st.va_slots_used, 4);
	check_page(&e, 4);
	check_page(&e, 33);
	/* The reclaimer meets the limit too, and says so. */
	CHECK_EQ(sgx_core_reclaim(core), -ENOMEM);
	CHECK_EQ(charged(core), 5);

	/* Loading one gives a charge back; a raised limit lets more out. */
	check_page(&e, 0);
	CHECK_EQ(charged(core), 4);
	CHECK_EQ(sgx_encl_evict(e.encl, 4 * PAGE), 0);
	sgx_core_set_backing_limit(core, 100);
	CHECK_EQ(sgx_encl_evict(e.encl, 33 * PAGE), 0);
	CHECK_EQ(charged(core), 7);
	for (uint64_t i = 0; i < 40; i++)
		check_page(&e, i);
	CHECK_EQ(charged(core), 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* Releasing an enclave returns every charge, written-back pages, PCMD
 * pages and SECS included. */
TEST(release_returns_charges)
{
	struct sgx_core_config cfg = quiet_config();
	int fds = ch_count_fds();
	struct sgx_cpu *cpu = ch_machine(256);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct ch_encl a, b;

	CHECK_EQ(ch_build(core, 3, 40, 1, true, &a), 0);
	CHECK_EQ(ch_build(core, 4, 20, 1, true, &b), 0);
	for (uint64_t i = 0; i < 41; i++)
		CHECK_EQ(sgx_encl_evict(a.encl, i * PAGE), 0);
	for (uint64_t i = 0; i < 10; i++)
		CHECK_EQ(sgx_encl_evict(b.encl, i * PAGE), 0);
	CHECK_EQ(charged(core), (41 + 1 + 2 + 1) + (10 + 1));
	sgx_encl_release(a.encl);
	CHECK_EQ(charged(core), 11);
	sgx_encl_release(b.encl);
	ch_finish(core, cpu, fds);
}

/* With limit 0 nothing is ever written back, and allocation past the EPC
 * answers -ENOMEM. */
TEST(limit_zero_never_writes_back)
{
	struct sgx_core_config cfg;
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core;
	struct sgx_core_stats st;
	struct sgx_secinfo secinfo;
	struct ch_encl e;
	uint8_t page[PAGE];
	uint64_t added = 0;
	int ret = 0;

	sgx_core_config_default(&cfg);
	cfg.backing_limit = 0;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build_ex(core, 5, 8, 0, 256 * PAGE, false, &e), 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 0), -ENOMEM);
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	memset(page, 0xab, sizeof(page));
	/* 8 + 200 pages in a 256-page enclave, on 128 frames. */
	for (uint64_t i = 8; i < 208 && !ret; i++) {
		ret = sgx_encl_add_page(e.encl, i * PAGE, page, &secinfo, 0);
		added += ret == 0;
	}
	CHECK_EQ(ret, -ENOMEM);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.pages_written_back, 0);
	CHECK_EQ(st.backing_charged, 0);
	CHECK_EQ(st.epc_free, 0);
	/* 128 frames: SECS, one VA page and the pages. */
	CHECK_EQ(8 + added, 128 - 2);
	for (uint64_t i = 0; i < 8; i++)
		check_page(&e, i);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

TEST(default_limit_is_150_percent)
{
	struct sgx_cpu *cpu = ch_machine(1000);
	struct sgx_core *core = ch_core(cpu, NULL);
	struct sgx_core_stats st;

	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.epc_total, 1000);
	CHECK_EQ(st.backing_limit, 1500);
	sgx_core_destroy(core);
	sgx_cpu_destroy(cpu);
}

/* Twice the EPC in one enclave, within the default limit: the reclaimer
 * thread and direct reclaim write pages back, the owner reads every page
 * back intact. */
TEST(overcommit_within_limit)
{
	int fds = ch_count_fds();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, NULL);
	struct sgx_core_stats st;
	struct ch_encl e;

	CHECK_EQ(ch_build(core, 6, 250, 2, true, &e), 0);
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < 250; i++)
			check_page(&e, i);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_GT(st.pages_written_back, 250);
	CHECK_GT(st.pages_loaded, 200);
	CHECK_LE(st.backing_charged, st.backing_limit);
	CHECK_EQ(st.load_failures, 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/* When the EPC is full and the limit is reached, adding a page answers
 * -ENOMEM; what was added is intact and everything comes back. */
TEST(allocation_past_limit_enomem)
{
	struct sgx_core_config cfg;
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core;
	struct sgx_core_stats st;
	struct ch_encl e;
	int ret;

	sgx_core_config_default(&cfg);
	cfg.backing_limit = 64;
	core = ch_core(cpu, &cfg);
	ret = ch_build(core, 7, 400, 0, false, &e);
	CHECK_EQ(ret, -ENOMEM);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_GT(st.backing_limit_hits, 0);
	CHECK_GT(st.pages_written_back, 0);
	ch_check_empty(core, 0);

	/* A smaller one fits, and reads back. */
	CHECK_EQ(ch_build(core, 8, 150, 0, false, &e), 0);
	for (uint64_t i = 0; i < 150; i++)
		check_page(&e, i);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* Under the on-demand VA policy, VA pages come as pages are written back
 * and go as they are loaded. */
TEST(on_demand_va_pages_follow_written_back)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(2048);
	struct sgx_core *core;
	struct sgx_core_stats st;
	struct ch_encl e;
	const uint64_t n = harness_sanitized() ? 1100 : 1500;

	cfg.backing_limit = 4096;
	cfg.va_policy = SGX_VA_POLICY_ON_DEMAND;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build(core, 9, n, 0, true, &e), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_policy, SGX_VA_POLICY_ON_DEMAND);
	CHECK_EQ(st.va_pages, 1);
	for (uint64_t i = 0; i < n; i++)
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_slots_used, n + 1); /* and the SECS */
	CHECK_EQ(st.va_pages, (n + 1) / SGX_VA_SLOT_COUNT + 1);
	for (uint64_t i = 0; i < n; i++)
		check_page(&e, i);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_slots_used, 0);
	CHECK_EQ(st.va_pages, 1);
	CHECK_EQ(st.backing_charged, 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* VA pages under the kernel's policy, as its sgx_encl_grow() counts: with
 * p pages in the enclave, the SECS included (encl->page_cnt), there are
 * ceil(p / 512), made as the pages are added, whatever is written back or
 * loaded, until release.  A page whose EADD fails takes the VA page it grew
 * with it (sgx_encl_shrink()). */
static uint64_t kernel_va_pages(uint64_t children)
{
	return (children + 1 + SGX_VA_SLOT_COUNT - 1) / SGX_VA_SLOT_COUNT;
}

TEST(kernel_va_policy_one_per_512_pages)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(2048);
	struct sgx_core *core;
	struct sgx_core_stats st;
	struct sgx_secinfo secinfo;
	struct ch_encl e;
	uint8_t page[PAGE];
	const uint64_t n = harness_sanitized() ? 1100 : 1500;
	char why[256];

	cfg.backing_limit = 4096;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_policy, SGX_VA_POLICY_KERNEL); /* the default */
	CHECK_EQ(ch_build_ex(core, 16, 0, 0, 2048 * PAGE, false, &e), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_pages, 1); /* with the SECS */
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	for (uint64_t i = 0; i < n; i++) {
		if (i + 1 == SGX_VA_SLOT_COUNT) {
			/* This page needs the second VA page: an EADD that
			 * faults (W without R) takes it back. */
			secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_W;
			CHECK_EQ(sgx_encl_add_page(e.encl, i * PAGE, page, &secinfo, 0), -EIO);
			CHECK_EQ(sgx_core_stats(core, &st), 0);
			CHECK_EQ(st.va_pages, 1);
			secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
		}
		ch_fill(page, e.tag, i, 0);
		CHECK_EQ(sgx_encl_add_page(e.encl, i * PAGE, page, &secinfo, 0), 0);
		CHECK_EQ(sgx_core_stats(core, &st), 0);
		CHECK_MSG(st.va_pages == kernel_va_pages(i + 1),
			  "%" PRIu64 " pages added: %" PRIu64 " VA pages, not %" PRIu64, i + 1,
			  st.va_pages, kernel_va_pages(i + 1));
	}
	CHECK_EQ(kernel_va_pages(n), 3);
	/* Written back and loaded again: the count stays. */
	for (uint64_t i = 0; i < n; i++)
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_slots_used, n);
	CHECK_EQ(st.va_pages, kernel_va_pages(n));
	for (uint64_t i = 0; i < n; i++)
		check_page(&e, i);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_slots_used, 0);
	CHECK_EQ(st.va_pages, kernel_va_pages(n));
	CHECK_MSG(sgx_core_check(core, true, why, sizeof(why)) == 0, "%s", why);
	sgx_encl_release(e.encl);
	/* An enclave of 511 pages and its SECS: one VA page, all its slots
	 * taken when everything is written back. */
	CHECK_EQ(ch_build(core, 17, SGX_VA_SLOT_COUNT - 1, 0, true, &e), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_pages, 1);
	sgx_encl_release(e.encl);
	ch_check_empty(core, 0);
	sgx_core_destroy(core);
	/* An unknown policy is refused. */
	cfg.va_policy = (enum sgx_va_policy)2;
	CHECK_EQ(sgx_core_create(cpu, &cfg, &core), -EINVAL);
	CHECK(sgx_va_policy_name((enum sgx_va_policy)2) == NULL);
	CHECK_STR(sgx_va_policy_name(SGX_VA_POLICY_KERNEL), "kernel");
	CHECK_STR(sgx_va_policy_name(SGX_VA_POLICY_ON_DEMAND), "on-demand");
	sgx_cpu_destroy(cpu);
}

/* The SECS asked out takes its enclave's last free VA slot.  Under the
 * on-demand policy its frame becomes the next VA page; under the kernel's,
 * the enclave's 512 pages have their 512 slots.  Either way the write-back
 * succeeds. */
static void secs_into_last_slot(enum sgx_va_policy policy, uint64_t va_after)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(1024);
	struct sgx_core *core;
	struct sgx_core_stats st;
	struct ch_encl e;
	const uint64_t n = SGX_VA_SLOT_COUNT - 1;
	/* n pages and their PCMD pages: the SECS, after the last child, does
	 * not fit, and stays resident. */
	const uint64_t limit = n + (n + 31) / 32;

	cfg.backing_limit = limit;
	cfg.va_policy = policy;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build(core, 14, n, 0, true, &e), 0);
	for (uint64_t i = 0; i < n; i++)
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
	check_resident(&e, e.size, true);
	CHECK_EQ(charged(core), limit);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_pages, 1);
	CHECK_EQ(st.va_slots_used, n);
	sgx_core_set_backing_limit(core, limit + 2);
	CHECK_EQ(sgx_encl_evict(e.encl, e.size), 0);
	check_resident(&e, e.size, false);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_pages, va_after);
	CHECK_EQ(st.va_slots_used, n + 1);
	CHECK_EQ(st.secs_written_back, 1);
	CHECK_EQ(sgx_encl_evict(e.encl, e.size), -EALREADY);
	check_page(&e, 0);
	check_resident(&e, e.size, true);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

TEST(secs_evict_into_last_va_slot)
{
	secs_into_last_slot(SGX_VA_POLICY_ON_DEMAND, 2);
	secs_into_last_slot(SGX_VA_POLICY_KERNEL, 1);
}

TEST(evict_errors)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct ch_encl e, u;

	CHECK_EQ(ch_build(core, 10, 3, 0, true, &e), 0);
	CHECK_EQ(e.size, 4 * PAGE);
	CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), -EFAULT); /* never added */
	CHECK_EQ(sgx_encl_evict(e.encl, 100), -EINVAL);
	CHECK_EQ(sgx_encl_evict(e.encl, e.size + PAGE), -EINVAL);
	CHECK_EQ(sgx_encl_evict(e.encl, e.size), -EBUSY); /* children resident */
	CHECK_EQ(sgx_encl_evict(e.encl, 0), 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 0), -EALREADY);
	/* An enclave not yet initialized keeps its SECS resident. */
	CHECK_EQ(ch_build(core, 11, 1, 0, false, &u), 0);
	CHECK_EQ(sgx_encl_evict(u.encl, 0), 0);
	CHECK_EQ(sgx_encl_evict(u.encl, u.size), -EBUSY);
	check_resident(&u, u.size, true);
	check_page(&u, 0);
	sgx_encl_release(u.encl);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* Bytes of memory the backing object holds from offset on (0: none). */
static uint64_t backing_data_at(struct ch_encl *e, uint64_t from)
{
	off_t at = lseek(sgx_encl_backing_fd(e->encl), (off_t)from, SEEK_DATA);

	if (at < 0) {
		CHECK_EQ(errno, ENXIO);
		return 0;
	}
	return (uint64_t)at + 1;
}

/* Bytes of memory the backing object holds from offset on, read from fd
 * itself, without the flush sgx_encl_backing_fd() makes (0: none). */
static uint64_t raw_data_at(int fd, uint64_t from)
{
	off_t at = lseek(fd, (off_t)from, SEEK_DATA);

	if (at < 0) {
		CHECK_EQ(errno, ENXIO);
		return 0;
	}
	return (uint64_t)at + 1;
}

/* Loads leave their backing memory to a late release (backing.c, Release:
 * a ring of twice the EPC's pages, at least 512).  A page loaded and
 * written back again before the release keeps its new copy (the release
 * must not punch it); handing the object out releases everything; a full
 * ring releases its older half, here every page's stale copy. */
TEST(late_release_spares_pages_written_again)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct ch_encl e;
	uint64_t loads = 0;
	int fd;

	CHECK_EQ(ch_build(core, 15, 100, 0, true, &e), 0);
	fd = sgx_encl_backing_fd(e.encl);
	/* Load page 0 (its release now pending), write it back again, then
	 * have the release run: the new copy must still load. */
	CHECK_EQ(sgx_encl_evict(e.encl, 0), 0);
	check_page(&e, 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 0), 0);
	CHECK_EQ(sgx_encl_backing_fd(e.encl), fd);
	check_resident(&e, 0, false);
	check_page(&e, 0);
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	/* Out and in, page by page: the stale copies stay (nothing charged
	 * covers them) until the object is handed out. */
	for (uint64_t i = 1; i <= 10; i++) {
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
		check_page(&e, i);
	}
	loads = 10;
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(raw_data_at(fd, 0), 1 * PAGE + 1);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	/* 512 loads fill the ring (page 0's load above was released by the
	 * hand-out); the 513th releases the oldest 256 entries, which name
	 * every page cycled: each one's copy is stale, as it is resident. */
	loads = 0;
	for (uint64_t i = 0; loads < 512; i++, loads++) {
		uint64_t p = 1 + i % 80;

		CHECK_EQ(sgx_encl_evict(e.encl, p * PAGE), 0);
		check_page(&e, p);
	}
	CHECK_EQ(raw_data_at(fd, 0), 1 * PAGE + 1);
	CHECK_EQ(sgx_encl_evict(e.encl, 1 * PAGE), 0);
	check_page(&e, 1);
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(raw_data_at(fd, 0), 0);
	for (uint64_t p = 0; p < 100; p++)
		check_page(&e, p);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* A write-back whose output the backing object cannot take (here the
 * process's file size limit stops the PCMD record after the page went in)
 * leaves the page resident and nothing behind in the object: no charge,
 * and no memory that no charge covers. */
TEST(failed_backing_write_leaves_nothing)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct rlimit old, lim;
	struct ch_encl e;

	CHECK_EQ(ch_build(core, 13, 8, 0, true, &e), 0);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	CHECK_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = e.size; /* pages go in, PCMD records do not */
	signal(SIGXFSZ, SIG_IGN);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), -EIO);
	check_resident(&e, 3 * PAGE, true);
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	check_page(&e, 3);
	/* With the limit lifted the same page goes out and comes back. */
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), 0);
	CHECK_EQ(charged(core), 2);
	check_page(&e, 3);
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* A batch stores its pages' outputs together, a write per run of
 * consecutive pages: when the object takes only part of a run (here the
 * file size limit lets the first pages' contents in and no PCMD record),
 * each page of it is stored on its own, and those that cannot be go back
 * resident with nothing left behind; with the limit lifted the run goes
 * out whole. */
TEST(batch_store_cut_short_by_the_object)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_core_stats st;
	struct rlimit old, lim;
	struct ch_encl e;
	uint64_t out = 0;

	CHECK_EQ(ch_build(core, 14, 16, 0, true, &e), 0);
	CHECK_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 5 * PAGE + PAGE / 2; /* five pages and half of a sixth */
	signal(SIGXFSZ, SIG_IGN);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	/* The first batch may only age the pages. */
	for (int i = 0; i < 3; i++)
		(void)sgx_core_reclaim(core);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.pages_written_back, 0);
	CHECK_GE(st.ewb_failures, 16);
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	for (uint64_t i = 0; i < 16; i++) {
		check_resident(&e, i * PAGE, true);
		check_page(&e, i);
	}
	/* Lifted: the pages go out (the reads above made them young). */
	for (int i = 0; i < 3 && out < 16; i++) {
		(void)sgx_core_reclaim(core);
		CHECK_EQ(sgx_core_stats(core, &st), 0);
		out = st.pages_written_back;
	}
	CHECK_EQ(out, 16);
	/* 16 contents pages, the SECS (its last child went) and one PCMD
	 * page for all of their records. */
	CHECK_EQ(charged(core), 18);
	for (uint64_t i = 0; i < 16; i++) {
		check_resident(&e, i * PAGE, false);
		check_page(&e, i);
	}
	CHECK_EQ(charged(core), 0);
	CHECK_EQ(backing_data_at(&e, 0), 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

/* A memory failure in a page in use reaches its owner as an error on its
 * next access, and the frame is quarantined when the enclave goes. */
TEST(poisoned_page_owner_gets_error)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_encl_page_info info;
	struct sgx_epc_page *page;
	struct sgx_core_stats st;
	struct ch_encl e;
	uint8_t buf[16];

	CHECK_EQ(ch_build(core, 12, 16, 0, true, &e), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, 3 * PAGE, &info), 0);
	CHECK(info.resident);
	page = sgx_epc_page_from_addr(sgx_core_epc(core), info.epc_addr);
	CHECK(page);
	CHECK_EQ(sgx_epc_poison(sgx_core_epc(core), page), 0);
	CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE + 8, buf, sizeof(buf)), -EHWPOISON);
	CHECK_EQ(sgx_encl_write(e.encl, 3 * PAGE, buf, sizeof(buf)), -EHWPOISON);
	CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), -EHWPOISON);
	/* A range crossing into it fails there, after the bytes before. */
	CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE - 8, buf, sizeof(buf)), -EHWPOISON);
	check_page(&e, 2);
	check_page(&e, 4);
	/* The reclaimer leaves it alone. */
	for (int i = 0; i < 4; i++)
		(void)sgx_core_reclaim(core);
	CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE, buf, sizeof(buf)), -EHWPOISON);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_GE(st.poison_errors, 4);
	check_page(&e, 5);
	sgx_encl_release(e.encl);
	/* The poisoned child cannot be EREMOVEd, so its SECS keeps a child
	 * and cannot be either: one frame quarantined, one leaked. */
	ch_check_empty_ex(core, 1, 1);
	sgx_core_destroy(core);
	sgx_cpu_destroy(cpu);
}

/* A memory failure in a VA page loses the pages written back into it, and
 * only those: write-backs after the first that meets it go to a new VA
 * page, instead of each meeting it again. */
TEST(poisoned_va_page_is_retired)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(128);
	struct sgx_core *core = ch_core(cpu, &cfg);
	struct sgx_encl_page_info info;
	struct sgx_epc_page *va;
	struct sgx_core_stats st;
	struct ch_encl e;
	char why[256];
	uint8_t buf[8];

	CHECK_EQ(ch_build(core, 15, 16, 0, true, &e), 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 0), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, 0, &info), 0);
	va = sgx_epc_page_from_addr(sgx_core_epc(core),
				    (void *)((uintptr_t)info.va_slot & ~(uintptr_t)(PAGE - 1)));
	CHECK(va);
	CHECK_EQ(sgx_epc_poison(sgx_core_epc(core), va), 0);
	/* The first write-back meets the failure; the next ones do not. */
	CHECK_EQ(sgx_encl_evict(e.encl, PAGE), -EHWPOISON);
	check_resident(&e, PAGE, true);
	for (uint64_t i = 1; i < 8; i++)
		CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_EQ(st.va_pages, 2);
	CHECK_MSG(sgx_core_check(core, true, why, sizeof(why)) == 0, "%s", why);
	/* Page 0's version went with the frame. */
	CHECK_EQ(sgx_encl_read(e.encl, 0, buf, sizeof(buf)), -EIO);
	for (uint64_t i = 1; i < 16; i++)
		check_page(&e, i);
	CHECK_EQ(charged(core), 2); /* page 0 and its PCMD page, until release */
	sgx_encl_release(e.encl);
	ch_check_empty_ex(core, 1, 0);
	sgx_core_destroy(core);
	sgx_cpu_destroy(cpu);
}
