/*
 * machine_helpers.h: tests of the machine process and its driver, through
 * the runtime's calls (sgxrt_open/ioctl/close) against a private machine
 * (sgxemu machine, started by sgxrt_machine_start() in each case's own
 * process).  Enclaves are laid out as core_helpers.h lays them out, so
 * the same signing and contents helpers serve.
 *
 * Every case ends with mh_finish(): through the machine's statistics,
 * every EPC page free, no backing charge, no VA page, no enclave, no
 * handle, no client process but the test's own; then the machine stops
 * and must exit 0 (its own end-of-life check).
 */
#ifndef SGXEMU_TEST_MACHINE_HELPERS_H
#define SGXEMU_TEST_MACHINE_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core_helpers.h"
#include "sgxemu/proto.h"
#include "sgxemu/runtime.h"
#include "sgxemu/uapi_sgx.h"

#define MH_SGXEMU SGXEMU_BINARY_DIR "/sgxemu"

/* A private machine with an EPC of epc (e.g. "1M") and seeded keys. */
static inline pid_t mh_start_ex(const char *epc, const char *limit_pct)
{
	const char *args[] = { "--epc", epc, "--seed", "1", limit_pct ? "--backing-limit" : NULL,
			       limit_pct, NULL };
	pid_t pid = sgxrt_machine_start(MH_SGXEMU, args);

	CHECK_MSG(pid > 0, "sgxrt_machine_start: %s", strerror(errno));
	return pid;
}

static inline pid_t mh_start(void)
{
	return mh_start_ex("1M", NULL);
}

static inline void mh_stats(struct sgxp_machine_stats *st)
{
	CHECK_MSG(sgxrt_machine_stats(st, SGXP_STATS_QUIESCE) == 0, "stats: %s", strerror(errno));
}

/* Nothing left: every frame free, no charge, no VA page, no enclave or
 * enclave file, no handle; at most the test's own process. */
static inline void mh_check_empty(void)
{
	struct sgxp_machine_stats st;

	mh_stats(&st);
	CHECK_EQ(st.core_check, 0);
	CHECK_EQ(st.enclaves, 0);
	CHECK_EQ(st.encl_files, 0);
	CHECK_EQ(st.handles, 0);
	CHECK_EQ(st.epc_free, st.epc_total);
	CHECK_EQ(st.epcm_valid, 0);
	CHECK_EQ(st.backing_charged, 0);
	CHECK_EQ(st.va_pages, 0);
	CHECK_EQ(st.va_slots_used, 0);
	CHECK_EQ(st.lru_pages, 0);
	CHECK_CMP(st.processes, <=, 1);
}

/* The end of every case: empty, then the machine stops cleanly. */
static inline void mh_finish(void)
{
	int status;

	mh_check_empty();
	status = sgxrt_machine_stop();
	CHECK_MSG(WIFEXITED(status), "machine status %#x", status);
	CHECK_EQ(WEXITSTATUS(status), 0);
}

static inline int mh_open(void)
{
	int fd = sgxrt_open("/dev/sgx_enclave", O_RDWR);

	CHECK_MSG(fd >= 0, "open: %s", strerror(errno));
	return fd;
}

/* The call's errno (0 on success). */
static inline int mh_ioctl(int fd, unsigned long cmd, void *arg)
{
	return sgxrt_ioctl(fd, cmd, arg) ? errno : 0;
}

/* A SECS as ch_build_ex() makes it. */
static inline void mh_secs(struct sgx_secs *secs, uint64_t size, uint64_t base)
{
	memset(secs, 0, sizeof(*secs));
	secs->size = size;
	secs->base = base;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	secs->xfrm = SGX_XFRM_LEGACY;
}

static inline int mh_create(int fd, const struct sgx_secs *secs)
{
	struct sgx_enclave_create c = { .src = (uint64_t)(uintptr_t)secs };

	return mh_ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &c);
}

/* ADD_PAGES of len bytes from src at offset; *count (if not NULL) gets
 * what the driver wrote back. */
static inline int mh_add(int fd, const void *src, uint64_t offset, uint64_t len, uint64_t flags,
			 uint64_t secinfo_flags, uint64_t *count)
{
	static struct sgx_secinfo si;
	struct sgx_enclave_add_pages a;
	int err;

	memset(&si, 0, sizeof(si));
	si.flags = secinfo_flags;
	memset(&a, 0, sizeof(a));
	a.src = (uint64_t)(uintptr_t)src;
	a.offset = offset;
	a.length = len;
	a.secinfo = (uint64_t)(uintptr_t)&si;
	a.flags = flags;
	a.count = 0xdead;
	err = mh_ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);
	if (count)
		*count = a.count;
	return err;
}

/* Page-aligned memory of n pages, filled as ch_fill() fills page i. */
static inline void *mh_pages(uint64_t tag, uint64_t n)
{
	uint8_t *p = mmap(NULL, n * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	for (uint64_t i = 0; i < n; i++)
		ch_fill(p + i * SGX_PAGE_SIZE, tag, i, 0);
	return p;
}

/* The SIGSTRUCT for an enclave of size with nr_reg RW pages (ch_fill of
 * tag, the first measured) and nr_tcs TCS pages (zero but NSSA 1), the
 * layout mh_build() adds. */
static inline void mh_sign(uint64_t tag, uint64_t size, uint64_t nr_reg, uint64_t nr_tcs,
			   uint64_t attributes, struct sgx_sigstruct *sig)
{
	struct sgx_layout layout;
	struct sgx_layout_page *lp;
	struct sgx_sign_params params;
	uint8_t page[SGX_PAGE_SIZE], mrenclave[32];
	uint64_t n = nr_reg + nr_tcs;

	lp = calloc(n, sizeof(*lp));
	CHECK(lp);
	memset(&layout, 0, sizeof(layout));
	layout.size = size;
	layout.ssa_frame_size = 1;
	layout.attributes = attributes;
	layout.xfrm = SGX_XFRM_LEGACY;
	layout.nr_pages = n;
	layout.pages = lp;
	ch_fill(page, tag, 0, 0);
	for (uint64_t i = 0; i < n; i++) {
		lp[i].offset = i * SGX_PAGE_SIZE;
		lp[i].secinfo_flags = i < nr_reg ? SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W
						 : SGX_SECINFO_TCS;
		lp[i].measure = i == 0;
		lp[i].data = i == 0 ? page : NULL;
	}
	CHECK_EQ(sgx_layout_measure(&layout, mrenclave), 0);
	free(lp);
	memset(&params, 0, sizeof(params));
	params.date = 0x20250101;
	params.attributes = attributes;
	params.xfrm = SGX_XFRM_LEGACY;
	params.attributes_mask = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	params.xfrm_mask = SGX_XFRM_LEGACY;
	CHECK_EQ(sgx_sigstruct_sign(ch_key(), &params, mrenclave, sig), 0);
}

/* Creates and fills an enclave on fd (the layout of mh_sign()); with init,
 * initializes it.  Returns the first failing call's errno, or 0. */
static inline int mh_build(int fd, uint64_t tag, uint64_t nr_reg, uint64_t nr_tcs, bool init)
{
	struct sgx_secs secs;
	struct sgx_sigstruct sig;
	struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)&sig };
	uint64_t size = 2 * SGX_PAGE_SIZE, n = nr_reg + nr_tcs, count;
	uint8_t *pages, *tcs;
	int err;

	while (size < n * SGX_PAGE_SIZE)
		size <<= 1;
	mh_secs(&secs, size, size * (1 + tag % 64));
	err = mh_create(fd, &secs);
	if (err)
		return err;
	pages = mh_pages(tag, nr_reg);
	err = mh_add(fd, pages, 0, SGX_PAGE_SIZE, SGX_PAGE_MEASURE,
		     SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, &count);
	if (!err && nr_reg > 1)
		err = mh_add(fd, pages + SGX_PAGE_SIZE, SGX_PAGE_SIZE, (nr_reg - 1) * SGX_PAGE_SIZE,
			     0, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, &count);
	munmap(pages, nr_reg * SGX_PAGE_SIZE);
	if (err)
		return err;
	tcs = mh_pages(0, 1);
	memset(tcs, 0, SGX_PAGE_SIZE);
	((struct sgx_tcs *)tcs)->nr_ssa_frames = 1;
	for (uint64_t i = 0; i < nr_tcs && !err; i++)
		err = mh_add(fd, tcs, (nr_reg + i) * SGX_PAGE_SIZE, SGX_PAGE_SIZE, 0,
			     SGX_SECINFO_TCS, &count);
	munmap(tcs, SGX_PAGE_SIZE);
	if (err || !init)
		return err;
	mh_sign(tag, size, nr_reg, nr_tcs, secs.attributes, &sig);
	return mh_ioctl(fd, SGX_IOC_ENCLAVE_INIT, &in);
}

#endif /* SGXEMU_TEST_MACHINE_HELPERS_H */
