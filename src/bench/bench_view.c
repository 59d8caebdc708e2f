/*
 * bench_view.c: the fault round trips of application views behind
 * `sgxemu bench epc`'s view_* keys, with their floor measured in the same
 * call: a bare userfaultfd minor fault served by a handler thread on the
 * same kind of mapping.  Nothing is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"
#include "sgxemu/view.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#define BENCH_VIEW_PAGES 16

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- The floor: a bare handler thread --------------------------------------- */

struct floor_env {
	int uffd, stop_fd;
	uint8_t *map;
};

static void *floor_main(void *arg)
{
	struct floor_env *f = arg;
	struct uffd_msg msg;

	for (;;) {
		struct pollfd p[2] = { { .fd = f->uffd, .events = POLLIN },
				       { .fd = f->stop_fd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (read(f->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT) {
			struct uffdio_continue c = {
				.range = { .start = msg.arg.pagefault.address &
						    ~(uint64_t)(SGX_PAGE_SIZE - 1),
					   .len = SGX_PAGE_SIZE },
			};

			if (ioctl(f->uffd, UFFDIO_CONTINUE, &c) && errno == EEXIST)
				(void)ioctl(f->uffd, UFFDIO_WAKE, &c.range);
		}
	}
	return NULL;
}

static int floor_uffd(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	int dev;

	if (fd >= 0)
		return fd;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -EPERM;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd >= 0 ? fd : -EPERM;
}

/* A shared memfd mapping registered for minor faults, with a handler
 * thread that only maps: the floor of a view's fault. */
struct floor {
	struct floor_env f;
	int mfd;
	bool thread;
	pthread_t th;
};

static void floor_stop(struct floor *fl)
{
	uint64_t one = 1;

	if (fl->thread) {
		(void)!write(fl->f.stop_fd, &one, sizeof(one));
		pthread_join(fl->th, NULL);
	}
	if (fl->f.stop_fd >= 0)
		close(fl->f.stop_fd);
	if (fl->f.uffd >= 0)
		close(fl->f.uffd);
	if (fl->f.map != MAP_FAILED)
		munmap(fl->f.map, BENCH_VIEW_PAGES * SGX_PAGE_SIZE);
	if (fl->mfd >= 0)
		close(fl->mfd);
}

static int floor_start(struct floor *fl)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM };
	struct uffdio_register reg;
	size_t len = BENCH_VIEW_PAGES * SGX_PAGE_SIZE;
	int ret;

	memset(fl, 0, sizeof(*fl));
	fl->f.uffd = fl->f.stop_fd = -1;
	fl->f.map = MAP_FAILED;
	fl->mfd = memfd_create("sgx bench floor", MFD_CLOEXEC);
	if (fl->mfd < 0)
		return -errno;
	if (ftruncate(fl->mfd, (off_t)len))
		goto err_errno;
	fl->f.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fl->mfd, 0);
	if (fl->f.map == MAP_FAILED)
		goto err_errno;
	memset(fl->f.map, 1, len); /* in memory: every fault below is minor */
	fl->f.uffd = floor_uffd();
	if (fl->f.uffd < 0) {
		ret = fl->f.uffd;
		goto err;
	}
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)fl->f.map;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(fl->f.uffd, UFFDIO_API, &api) || ioctl(fl->f.uffd, UFFDIO_REGISTER, &reg)) {
		ret = errno == EINVAL ? -EOPNOTSUPP : -errno;
		goto err;
	}
	fl->f.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fl->f.stop_fd < 0)
		goto err_errno;
	ret = -pthread_create(&fl->th, NULL, floor_main, &fl->f);
	if (ret)
		goto err;
	fl->thread = true;
	return 0;
err_errno:
	ret = -errno;
err:
	floor_stop(fl);
	return ret;
}

/* n rounds of MADV_DONTNEED + touch over the pages at base: us per round. */
static double zap_touch(uint8_t *base, unsigned int n, bool touch)
{
	volatile uint8_t sink = 0;
	double t0 = now_us();

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = base + (i % BENCH_VIEW_PAGES) * SGX_PAGE_SIZE;

		madvise(p, SGX_PAGE_SIZE, MADV_DONTNEED);
		if (touch)
			sink += *(volatile uint8_t *)p;
	}
	(void)sink;
	return (now_us() - t0) / n;
}

/* ---- Views --------------------------------------------------------------------- */

/* Batches the floor and the view take turns in, so that a neighbour's
 * burst hits both; each figure is the best batch. */
#define BENCH_VIEW_BATCHES 16

static double fmin_(double a, double b)
{
	return a < b ? a : b;
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/*
 * One placement: the handler threads (the floor's and the view's) are made
 * while the caller runs on handler_cpu, so they inherit it, and the faults
 * are taken on touch_cpu.  The figures go to out[0..2]: minor, ELDU, floor.
 */
static int bench_placement(struct sgx_cpu *cpu, unsigned int iterations, int handler_cpu,
			   int touch_cpu, double out[4])
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	struct sgx_core_config cfg;
	struct sgx_encl_view *view = NULL;
	struct sgx_encl *encl = NULL;
	struct sgx_core *core;
	struct sgx_secs *secs;
	struct floor fl;
	volatile uint8_t sink = 0;
	unsigned int per = iterations / BENCH_VIEW_BATCHES;
	uint8_t *page, *v;
	int ret;

	out[0] = out[1] = out[2] = out[3] = 1e30;
	if (handler_cpu >= 0)
		pin_self(handler_cpu);
	ret = floor_start(&fl);
	if (ret)
		return ret;
	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true; /* the write-backs are the benchmark's */
	ret = sgx_core_create(cpu, &cfg, &core);
	if (ret) {
		floor_stop(&fl);
		return ret;
	}
	secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!secs || !page) {
		ret = -ENOMEM;
		goto out;
	}
	memset(secs, 0, sizeof(*secs));
	secs->size = BENCH_VIEW_PAGES * SGX_PAGE_SIZE;
	secs->base = secs->size;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT;
	secs->xfrm = SGX_XFRM_LEGACY;
	memset(page, 0x5A, SGX_PAGE_SIZE);
	ret = sgx_encl_create(core, secs, NULL, NULL, &encl);
	for (uint64_t i = 0; i < BENCH_VIEW_PAGES && !ret; i++)
		ret = sgx_encl_add_page(encl, i * SGX_PAGE_SIZE, page, &secinfo, 0);
	if (!ret)
		ret = sgx_encl_view_create(encl, &view);
	if (ret)
		goto out;
	v = sgx_encl_view_addr(view);
	if (touch_cpu >= 0)
		pin_self(touch_cpu);

	for (unsigned int b = 0; b < BENCH_VIEW_BATCHES && !ret; b++) {
		double eldu = 0;

		out[2] = fmin_(out[2], zap_touch(fl.f.map, per, true));
		/* Minor: the aging's zap, then a touch the handler maps again. */
		out[0] = fmin_(out[0], zap_touch(v, per, true));
		out[3] = fmin_(out[3], zap_touch(fl.f.map, per, false));
		/* Missing: the page written back (not timed), then the touch
		 * that loads it (ELDU) and maps it. */
		for (unsigned int i = 0; i < per && !ret; i++) {
			uint64_t off = (i % BENCH_VIEW_PAGES) * SGX_PAGE_SIZE;
			double t0;

			ret = sgx_encl_evict(encl, off);
			t0 = now_us();
			sink += *(volatile uint8_t *)(v + off);
			eldu += now_us() - t0;
		}
		out[1] = fmin_(out[1], eldu / per);
	}
	(void)sink;
out:
	sgx_encl_view_destroy(view);
	if (encl)
		sgx_encl_release(encl);
	free(page);
	free(secs);
	sgx_core_quiesce(core);
	sgx_core_destroy(core);
	floor_stop(&fl);
	return ret;
}

int sgx_bench_view(struct sgx_cpu *cpu, unsigned int iterations, struct sgx_bench_view *out)
{
	cpu_set_t saved;
	int cpus[2], n = 0, ret;
	double f[4];

	if (!cpu || !out || iterations < BENCH_VIEW_BATCHES || iterations > 1000000)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved))
		CPU_ZERO(&saved);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &saved))
			cpus[n++] = c;

	/* Handler and toucher on one CPU: the handler runs as soon as the
	 * toucher blocks in its fault. */
	ret = bench_placement(cpu, iterations, n ? cpus[0] : -1, n ? cpus[0] : -1, f);
	if (!ret) {
		out->minor_fault_us = f[0];
		out->eldu_fault_us = f[1];
		out->uffd_floor_us = f[2];
		out->zap_us = f[3];
	}
	/* On two CPUs: each fault wakes the other, which in a VM may have to
	 * be woken from halt first. */
	if (!ret && n == 2) {
		ret = bench_placement(cpu, iterations, cpus[1], cpus[0], f);
		if (!ret) {
			out->minor_fault_cross_us = f[0];
			out->eldu_fault_cross_us = f[1];
			out->uffd_floor_cross_us = f[2];
		}
	}
	if (n)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	return ret;
}
