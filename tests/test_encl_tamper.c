/*
 * test_encl_tamper.c: the malicious kernel at the enclave level.  Through
 * the backing object the core hands out (sgx_encl_backing_fd()), a seeded
 * run changes one bit of a written-back page, of its PCMD, or of its VA
 * slot, puts back an older copy of a page with its PCMD, or moves another
 * page's copy into its place.  Each time the owner's next access must fail
 * with -EIO (the kernel's SIGBUS) and leave its buffer untouched, never
 * hand out wrong bytes; once the backing is restored the page loads with
 * the right contents.  The SECS gets the same treatment.
 *
 * HARNESS_SEED changes the run; each case prints its seed on failure.
 */
#include <fcntl.h>

#include "core_helpers.h"

#define PAGE SGX_PAGE_SIZE
#define NR_REG 64

enum tamper_kind {
	TAMPER_CONTENTS,
	TAMPER_PCMD,
	TAMPER_VA_SLOT,
	TAMPER_REPLAY,
	TAMPER_OTHER_PAGE,
	NR_TAMPER_KINDS,
};

struct tamper_env {
	struct sgx_cpu *cpu;
	struct sgx_core *core;
	struct ch_encl e;
	int fd;
	uint64_t gen[NR_REG]; /* the contents generation of each page */
	uint64_t seed;
};

static void env_init(struct tamper_env *t, uint64_t seed)
{
	struct sgx_core_config cfg;

	memset(t, 0, sizeof(*t));
	t->seed = seed;
	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true; /* the test decides what is written back */
	t->cpu = ch_machine(256);
	t->core = ch_core(t->cpu, &cfg);
	CHECK_EQ(ch_build(t->core, 77, NR_REG, 1, true, &t->e), 0);
	t->fd = sgx_encl_backing_fd(t->e.encl);
	CHECK_GE(t->fd, 0);
}

static void env_fini(struct tamper_env *t, int fds)
{
	sgx_encl_release(t->e.encl);
	ch_check_empty(t->core, 0);
	CHECK_EQ(ch_count_fds(), fds);
	sgx_core_destroy(t->core);
	sgx_cpu_destroy(t->cpu);
}

static void pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	CHECK_EQ(pread(fd, buf, len, (off_t)off), (ssize_t)len);
}

static void pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	CHECK_EQ(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
}

/* Reads page i and checks it holds generation gen[i]. */
static void expect_good(struct tamper_env *t, uint64_t i, uint64_t n)
{
	uint8_t want[PAGE], got[PAGE];

	ch_fill(want, t->e.tag, i, t->gen[i]);
	CHECK_MSG(sgx_encl_read(t->e.encl, i * PAGE, got, PAGE) == 0,
		  "seed %#" PRIx64 " tamper %" PRIu64 ": page %" PRIu64 " does not load back",
		  t->seed, n, i);
	CHECK_MSG(memcmp(want, got, PAGE) == 0,
		  "seed %#" PRIx64 " tamper %" PRIu64 ": page %" PRIu64 " has wrong bytes", t->seed,
		  n, i);
}

/* The owner's read and write of page i both fail with -EIO, and the read
 * leaves the buffer as it was. */
static void expect_refused(struct tamper_env *t, uint64_t i, uint64_t n, const char *what)
{
	uint8_t buf[PAGE], junk[64];
	int ret;

	memset(buf, 0xEE, sizeof(buf));
	ret = sgx_encl_read(t->e.encl, i * PAGE, buf, PAGE);
	CHECK_MSG(ret == -EIO, "seed %#" PRIx64 " tamper %" PRIu64 " (%s) of page %" PRIu64
		  ": read gave %d, want -EIO", t->seed, n, what, i, ret);
	for (size_t k = 0; k < sizeof(buf); k++)
		CHECK_MSG(buf[k] == 0xEE, "seed %#" PRIx64 " tamper %" PRIu64
			  ": a refused read wrote into the buffer", t->seed, n);
	memset(junk, 0x11, sizeof(junk));
	ret = sgx_encl_write(t->e.encl, i * PAGE + 64, junk, sizeof(junk));
	CHECK_MSG(ret == -EIO, "seed %#" PRIx64 " tamper %" PRIu64 " (%s): write gave %d", t->seed,
		  n, what, ret);
}

/* Gives page i a new generation of contents, so its next write-back has a
 * newer version than any copy taken before. */
static void rewrite(struct tamper_env *t, uint64_t i)
{
	uint8_t buf[PAGE];

	t->gen[i]++;
	ch_fill(buf, t->e.tag, i, t->gen[i]);
	CHECK_EQ(sgx_encl_write(t->e.encl, i * PAGE, buf, PAGE), 0);
}

static void flip_bit(struct tamper_env *t, uint64_t off, size_t len, uint64_t *rng,
		     uint8_t *saved, size_t *saved_len, uint64_t *saved_off)
{
	uint64_t bit = harness_rand(rng) % (len * 8);
	uint8_t byte;

	*saved_off = off + bit / 8;
	*saved_len = 1;
	pread_all(t->fd, saved, 1, *saved_off);
	byte = saved[0] ^ (uint8_t)(1U << (bit % 8));
	pwrite_all(t->fd, &byte, 1, *saved_off);
}

static void tamper_one(struct tamper_env *t, uint64_t n, uint64_t *rng, unsigned int *kinds)
{
	enum tamper_kind kind = (enum tamper_kind)(harness_rand(rng) % NR_TAMPER_KINDS);
	uint64_t i = harness_rand(rng) % NR_REG;
	uint64_t j = (i + 1 + harness_rand(rng) % (NR_REG - 1)) % NR_REG;
	uint64_t pcmd_off = sgx_encl_backing_pcmd_offset(t->e.encl, i);
	uint64_t page_off = sgx_encl_backing_page_offset(t->e.encl, i);
	static uint8_t old_page[PAGE], cur_page[PAGE];
	uint8_t old_pcmd[128], cur_pcmd[128], saved[1];
	struct sgx_encl_page_info info;
	uint64_t saved_off = 0, slot, bit;
	size_t saved_len = 0;

	kinds[kind]++;
	switch (kind) {
	case TAMPER_CONTENTS:
	case TAMPER_PCMD:
		CHECK_EQ(sgx_encl_evict(t->e.encl, i * PAGE), 0);
		if (kind == TAMPER_CONTENTS)
			flip_bit(t, page_off, PAGE, rng, saved, &saved_len, &saved_off);
		else
			flip_bit(t, pcmd_off, 128, rng, saved, &saved_len, &saved_off);
		expect_refused(t, i, n, kind == TAMPER_CONTENTS ? "contents" : "PCMD");
		pwrite_all(t->fd, saved, saved_len, saved_off);
		expect_good(t, i, n);
		break;

	case TAMPER_VA_SLOT:
		CHECK_EQ(sgx_encl_evict(t->e.encl, i * PAGE), 0);
		CHECK_EQ(sgx_encl_page_info(t->e.encl, i * PAGE, &info), 0);
		CHECK(info.va_slot);
		/* The version lives in the EPC, out of a real kernel's reach;
		 * the emulator's memory is not. */
		memcpy(&slot, info.va_slot, sizeof(slot));
		bit = harness_rand(rng) % 64;
		slot ^= 1ULL << bit;
		memcpy(info.va_slot, &slot, sizeof(slot));
		expect_refused(t, i, n, "VA slot");
		slot ^= 1ULL << bit;
		memcpy(info.va_slot, &slot, sizeof(slot));
		expect_good(t, i, n);
		break;

	case TAMPER_REPLAY:
		/* Keep the copy of one write-back, change the page, write it
		 * back again, then put the old copy with its PCMD back. */
		CHECK_EQ(sgx_encl_evict(t->e.encl, i * PAGE), 0);
		pread_all(t->fd, old_page, PAGE, page_off);
		pread_all(t->fd, old_pcmd, sizeof(old_pcmd), pcmd_off);
		rewrite(t, i);
		CHECK_EQ(sgx_encl_evict(t->e.encl, i * PAGE), 0);
		pread_all(t->fd, cur_page, PAGE, page_off);
		pread_all(t->fd, cur_pcmd, sizeof(cur_pcmd), pcmd_off);
		pwrite_all(t->fd, old_page, PAGE, page_off);
		pwrite_all(t->fd, old_pcmd, sizeof(old_pcmd), pcmd_off);
		expect_refused(t, i, n, "older copy");
		pwrite_all(t->fd, cur_page, PAGE, page_off);
		pwrite_all(t->fd, cur_pcmd, sizeof(cur_pcmd), pcmd_off);
		expect_good(t, i, n);
		break;

	case TAMPER_OTHER_PAGE:
		/* Page j's copy and PCMD in page i's place. */
		CHECK_EQ(sgx_encl_evict(t->e.encl, i * PAGE), 0);
		CHECK_EQ(sgx_encl_evict(t->e.encl, j * PAGE), 0);
		pread_all(t->fd, cur_page, PAGE, page_off);
		pread_all(t->fd, cur_pcmd, sizeof(cur_pcmd), pcmd_off);
		pread_all(t->fd, old_page, PAGE, sgx_encl_backing_page_offset(t->e.encl, j));
		pread_all(t->fd, old_pcmd, sizeof(old_pcmd),
			  sgx_encl_backing_pcmd_offset(t->e.encl, j));
		pwrite_all(t->fd, old_page, PAGE, page_off);
		pwrite_all(t->fd, old_pcmd, sizeof(old_pcmd), pcmd_off);
		expect_refused(t, i, n, "another page's copy");
		pwrite_all(t->fd, cur_page, PAGE, page_off);
		pwrite_all(t->fd, cur_pcmd, sizeof(cur_pcmd), pcmd_off);
		expect_good(t, i, n);
		expect_good(t, j, n);
		break;

	default:
		CHECK(0);
	}
}

TEST(seeded_tampers_refused)
{
	int fds = ch_count_fds();
	uint64_t seed = harness_seed(0x7a3f3e5d1c2b4a69ULL), rng = seed;
	const uint64_t n = harness_sanitized() ? 300 : 1000;
	unsigned int kinds[NR_TAMPER_KINDS] = { 0 };
	struct sgx_core_stats st;
	struct tamper_env t;

	env_init(&t, seed);
	for (uint64_t k = 0; k < n; k++) {
		tamper_one(&t, k, &rng, kinds);
		/* Now and then every page, to catch damage done elsewhere. */
		if (k % 97 == 0)
			for (uint64_t i = 0; i < NR_REG; i++)
				expect_good(&t, i, k);
	}
	for (unsigned int k = 0; k < NR_TAMPER_KINDS; k++)
		CHECK_GT(kinds[k], n / NR_TAMPER_KINDS / 2);
	CHECK_EQ(sgx_core_stats(t.core, &st), 0);
	/* Each tamper: one refused read and one refused write. */
	CHECK_EQ(st.load_failures, 2 * n);
	CHECK_EQ(st.backing_charged, 0);
	CHECK_EQ(st.va_slots_used, 0);
	env_fini(&t, fds);
}

/* The SECS: written back after the last child, then any bit of its copy or
 * PCMD changed; every page of the enclave is then refused. */
TEST(secs_tamper_refused)
{
	int fds = ch_count_fds();
	uint64_t seed = harness_seed(0x51ec5ULL), rng = seed;
	struct sgx_encl_page_info info;
	struct tamper_env t;
	uint64_t secs_index, off, saved_off;
	uint8_t saved[1];
	size_t saved_len;

	env_init(&t, seed);
	secs_index = t.e.size / PAGE;
	for (int round = 0; round < 8; round++) {
		for (uint64_t i = 0; i < NR_REG + 1; i++) {
			int ret = sgx_encl_evict(t.e.encl, i * PAGE);

			CHECK_MSG(ret == 0 || ret == -EALREADY, "evict %" PRIu64 ": %d", i, ret);
		}
		CHECK_EQ(sgx_encl_page_info(t.e.encl, t.e.size, &info), 0);
		CHECK_MSG(!info.resident, "round %d: the SECS stayed resident", round);
		off = round % 2 ? sgx_encl_backing_pcmd_offset(t.e.encl, secs_index)
				: sgx_encl_backing_page_offset(t.e.encl, secs_index);
		flip_bit(&t, off, round % 2 ? 128 : PAGE, &rng, saved, &saved_len, &saved_off);
		expect_refused(&t, harness_rand(&rng) % NR_REG, (uint64_t)round, "SECS");
		CHECK_EQ(sgx_encl_page_info(t.e.encl, t.e.size, &info), 0);
		CHECK(!info.resident);
		pwrite_all(t.fd, saved, saved_len, saved_off);
		for (uint64_t i = 0; i < NR_REG; i++)
			expect_good(&t, i, (uint64_t)round);
	}
	env_fini(&t, fds);
}

/* A page whose copy was destroyed (punched out of the object, as a kernel
 * could) is refused, not zero-filled into the enclave.  The object cannot
 * be truncated: it is sealed against shrinking, as the core maps it. */
TEST(destroyed_backing_refused)
{
	int fds = ch_count_fds();
	struct tamper_env t;

	env_init(&t, 1);
	CHECK_EQ(sgx_encl_evict(t.e.encl, 5 * PAGE), 0);
	CHECK_EQ(ftruncate(t.fd, 0), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(fallocate(t.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 * PAGE, PAGE), 0);
	expect_refused(&t, 5, 0, "punched out");
	/* Write-backs keep working and load. */
	CHECK_EQ(sgx_encl_evict(t.e.encl, 6 * PAGE), 0);
	expect_good(&t, 6, 0);
	expect_refused(&t, 5, 0, "punched out");
	env_fini(&t, fds);
}
