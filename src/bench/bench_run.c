/*
 * bench_run.c: the measurements behind `sgxemu bench run` besides the
 * ECALL's (bench_ecall.c): the floor of a fault on a written-back page,
 * ADD_PAGES through a machine against the core's own build rate, and the
 * signal this host raises for ENCLU.  Nothing is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bench/bench.h"
#include "sgxemu/core.h"
#include "sgxemu/encl.h"
#include "sgxemu/proto.h"
#include "sgxemu/runtime.h"
#include "sgxemu/uapi_sgx.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- The signal ENCLU raises here ------------------------------------------- */

static volatile sig_atomic_t trap_signo;

static void trap_note(int signo, siginfo_t *si, void *uc)
{
	trap_signo = signo;
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] += 3;
}

int sgx_bench_enclu_signal(void)
{
	struct sigaction sa = { .sa_sigaction = trap_note, .sa_flags = SA_SIGINFO };
	struct sigaction old_ill, old_segv;

	trap_signo = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGILL, &sa, &old_ill);
	sigaction(SIGSEGV, &sa, &old_segv);
	__asm__ volatile(".byte 0x0f, 0x01, 0xd7" ::: "memory");
	sigaction(SIGILL, &old_ill, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return trap_signo;
}

/* ---- The fault floor ------------------------------------------------------------- */

#define FLOOR_PAGES 16

struct floor {
	int uffd, stop_fd, mfd;
	uint8_t *map;
	bool thread;
	pthread_t th;
};

/* The handler thread: maps the page of each minor fault (UFFDIO_CONTINUE),
 * the least a fault handler of a shared memfd mapping does. */
static void *floor_main(void *arg)
{
	struct floor *f = arg;
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

static void floor_stop(struct floor *f)
{
	uint64_t one = 1;

	if (f->thread) {
		(void)!write(f->stop_fd, &one, sizeof(one));
		pthread_join(f->th, NULL);
	}
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	if (f->uffd >= 0)
		close(f->uffd);
	if (f->map != MAP_FAILED)
		munmap(f->map, FLOOR_PAGES * SGX_PAGE_SIZE);
	if (f->mfd >= 0)
		close(f->mfd);
}

static int floor_start(struct floor *f)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM };
	struct uffdio_register reg;
	size_t len = FLOOR_PAGES * SGX_PAGE_SIZE;
	int ret;

	memset(f, 0, sizeof(*f));
	f->uffd = f->stop_fd = -1;
	f->map = MAP_FAILED;
	f->mfd = memfd_create("sgx bench fault floor", MFD_CLOEXEC);
	if (f->mfd < 0)
		return -errno;
	if (ftruncate(f->mfd, (off_t)len))
		goto err_errno;
	f->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->mfd, 0);
	if (f->map == MAP_FAILED)
		goto err_errno;
	memset(f->map, 1, len); /* in the page cache: each fault below is minor */
	f->uffd = floor_uffd();
	if (f->uffd < 0) {
		ret = f->uffd;
		goto err;
	}
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)f->map;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(f->uffd, UFFDIO_API, &api) || ioctl(f->uffd, UFFDIO_REGISTER, &reg)) {
		ret = errno == EINVAL ? -EOPNOTSUPP : -errno;
		goto err;
	}
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (f->stop_fd < 0)
		goto err_errno;
	ret = -pthread_create(&f->th, NULL, floor_main, f);
	if (ret)
		goto err;
	f->thread = true;
	return 0;
err_errno:
	ret = -errno;
err:
	floor_stop(f);
	return ret;
}

/* One AES-128-GCM encryption of a page with its tag, as EWB makes. */
static int aes_page(EVP_CIPHER_CTX *ctx, const uint8_t key[16], uint8_t iv[12], const uint8_t *in,
		    uint8_t *out)
{
	uint8_t tag[16];
	int n, m;

	iv[0]++;
	if (!EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) ||
	    !EVP_EncryptUpdate(ctx, out, &n, in, SGX_PAGE_SIZE) ||
	    !EVP_EncryptFinal_ex(ctx, out + n, &m) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag))
		return -EIO;
	return 0;
}

int sgx_bench_fault_floor(uint64_t iterations, struct sgx_bench_fault_floor *out)
{
	static const uint8_t key[16] = { 0x2b, 0x7e, 0x15, 0x16 };
	uint8_t iv[12] = { 0 };
	uint8_t *plain = NULL, *cipher = NULL;
	uint64_t *both = NULL, *uffd = NULL, *aes = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	struct floor f;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!iterations)
		return -EINVAL;
	ret = floor_start(&f);
	if (ret)
		return ret;
	both = calloc(iterations, sizeof(*both));
	uffd = calloc(iterations, sizeof(*uffd));
	aes = calloc(iterations, sizeof(*aes));
	plain = malloc(SGX_PAGE_SIZE);
	cipher = malloc(SGX_PAGE_SIZE + 16);
	ctx = EVP_CIPHER_CTX_new();
	if (!both || !uffd || !aes || !plain || !cipher || !ctx ||
	    !EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, sizeof(iv), NULL)) {
		ret = -ENOMEM;
		goto out;
	}
	memset(plain, 0x5a, SGX_PAGE_SIZE);
	for (uint64_t i = 0; i < iterations; i++) {
		volatile uint8_t *p = f.map + (i % FLOOR_PAGES) * SGX_PAGE_SIZE;
		uint64_t t0, t1, t2;

		/* The zap of a page written back, untimed. */
		madvise((void *)p, SGX_PAGE_SIZE, MADV_DONTNEED);
		t0 = now_ns();
		(void)*p;
		t1 = now_ns();
		ret = aes_page(ctx, key, iv, plain, cipher);
		t2 = now_ns();
		if (ret)
			goto out;
		uffd[i] = t1 - t0;
		aes[i] = t2 - t1;
		both[i] = t2 - t0;
	}
	qsort(both, iterations, sizeof(*both), cmp_u64);
	qsort(uffd, iterations, sizeof(*uffd), cmp_u64);
	qsort(aes, iterations, sizeof(*aes), cmp_u64);
	out->iterations = iterations;
	out->floor_p50_us = both[iterations / 2] / 1000.0;
	out->floor_p99_us = both[iterations * 99 / 100] / 1000.0;
	out->uffd_p50_us = uffd[iterations / 2] / 1000.0;
	out->aes_gcm_p50_us = aes[iterations / 2] / 1000.0;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(plain);
	free(cipher);
	free(both);
	free(uffd);
	free(aes);
	floor_stop(&f);
	return ret;
}

/* ---- ADD_PAGES ------------------------------------------------------------------ */

static const struct sgx_secinfo add_secinfo = {
	.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
};

/* A SECS for an enclave of size bytes. */
static void add_secs(struct sgx_secs *secs, uint64_t size)
{
	memset(secs, 0, sizeof(*secs));
	secs->size = size;
	secs->base = size; /* size-aligned */
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	secs->xfrm = SGX_XFRM_LEGACY;
}

/* The core's own rate: sgx_encl_add_page() of every page, measured, on a
 * core in this process whose EPC has the machine's size. */
struct add_core {
	struct sgx_cpu *cpu;
	struct sgx_core *core;
};

static void add_core_destroy(struct add_core *a)
{
	if (a->core)
		sgx_core_destroy(a->core);
	if (a->cpu)
		sgx_cpu_destroy(a->cpu);
	a->core = NULL;
	a->cpu = NULL;
}

static int add_core_create(struct add_core *a, uint64_t epc_bytes)
{
	struct sgx_core_config kc;
	struct sgx_cpu_config cc;
	int ret;

	memset(a, 0, sizeof(*a));
	sgx_cpu_config_default(&cc, epc_bytes);
	ret = sgx_cpu_create(&cc, &a->cpu);
	if (ret)
		return ret;
	/* Hardware EPC is backed from power-on; so is the machine's after
	 * its first build. */
	ret = sgx_cpu_prefault(a->cpu);
	if (!ret) {
		sgx_core_config_default(&kc);
		ret = sgx_core_create(a->cpu, &kc, &a->core);
	}
	if (ret)
		add_core_destroy(a);
	return ret;
}

static int add_core_once(struct add_core *a, uint64_t size, const uint8_t *src, double *secs)
{
	struct sgx_encl *encl;
	struct sgx_secs s;
	uint64_t t0;
	int ret;

	add_secs(&s, size);
	ret = sgx_encl_create(a->core, &s, NULL, NULL, &encl);
	if (ret)
		return ret;
	t0 = now_ns();
	for (uint64_t off = 0; off < size && !ret; off += SGX_PAGE_SIZE)
		ret = sgx_encl_add_page(encl, off, src + off, &add_secinfo, 0xffff);
	*secs = (now_ns() - t0) / 1e9;
	sgx_encl_release(encl);
	sgx_core_quiesce(a->core);
	return ret;
}

/* One enclave built by ADD_PAGES through the machine: CREATE, then every
 * page (measured) in calls of the whole range, continued from the count
 * a partial call returns.  The time of the ADD_PAGES calls in *secs. */
static int add_machine_once(uint64_t size, const uint8_t *src, double *secs)
{
	struct sgx_secs s;
	struct sgx_enclave_create c = { .src = (uint64_t)(uintptr_t)&s };
	uint64_t done = 0, t0;
	int fd, ret = 0;

	add_secs(&s, size);
	fd = sgxrt_open("/dev/sgx_enclave", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (sgxrt_ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &c)) {
		ret = -errno;
		goto out;
	}
	t0 = now_ns();
	while (done < size) {
		struct sgx_enclave_add_pages a = {
			.src = (uint64_t)(uintptr_t)(src + done),
			.offset = done,
			.length = size - done,
			.secinfo = (uint64_t)(uintptr_t)&add_secinfo,
			.flags = SGX_PAGE_MEASURE,
		};

		int err = sgxrt_ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a) ? errno : 0;

		if (err && err != EINTR) {
			ret = -err;
			goto out;
		}
		if (!err && !a.count) {
			ret = -EIO;
			goto out;
		}
		done += a.count;
	}
	*secs = (now_ns() - t0) / 1e9;
out:
	sgxrt_close(fd);
	return ret;
}

int sgx_bench_add_pages(const char *sgxemu, uint64_t size, unsigned int rounds,
			struct sgx_bench_add_pages *out)
{
	/* The enclave, its SECS and VA pages, with room to spare below the
	 * reclaimer's watermarks: nothing is written back. */
	uint64_t epc = size + (size >> 8) + (1ULL << 20);
	char epc_arg[32];
	const char *args[] = { "--epc", epc_arg, NULL };
	struct sgxp_machine_stats st;
	double machine = 0, core = 0;
	struct add_core ac = { 0 };
	uint8_t *src;
	int ret, status;

	memset(out, 0, sizeof(*out));
	if (!size || (size & (size - 1)) || size < 2 * SGX_PAGE_SIZE || !rounds)
		return -EINVAL;
	epc = (epc + SGX_PAGE_SIZE - 1) & ~(uint64_t)(SGX_PAGE_SIZE - 1);
	snprintf(epc_arg, sizeof(epc_arg), "%llu", (unsigned long long)epc);
	src = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return -ENOMEM;
	for (uint64_t i = 0; i < size / 8; i++)
		((uint64_t *)src)[i] = i * 0x9e3779b97f4a7c15ULL;

	if (sgxrt_machine_start(sgxemu, args) < 0) {
		ret = -errno;
		goto out_src;
	}
	ret = add_core_create(&ac, epc);
	/* A first build backs the machine's EPC (untimed); then the machine
	 * and the core take turns, so that both see the same host. */
	if (!ret)
		ret = add_machine_once(size, src, &machine);
	for (unsigned int r = 0; r < rounds && !ret; r++) {
		double tm, tc;

		if (sgxrt_machine_stats(&st, SGXP_STATS_QUIESCE)) {
			ret = -errno;
			break;
		}
		ret = add_machine_once(size, src, &tm);
		if (!ret)
			ret = add_core_once(&ac, size, src, &tc);
		if (ret)
			break;
		if (!r || tm < machine)
			machine = tm;
		if (!r || tc < core)
			core = tc;
	}
	if (!ret && sgxrt_machine_stats(&st, SGXP_STATS_QUIESCE))
		ret = -errno;
	if (!ret && (st.epc_free != st.epc_total || st.pages_written_back))
		ret = -EUCLEAN; /* a page left, or the build paged */
	status = sgxrt_machine_stop();
	if (!ret && (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status)))
		ret = -EUCLEAN;
	add_core_destroy(&ac);
	if (ret)
		goto out_src;
	out->size = size;
	out->pages = size / SGX_PAGE_SIZE;
	out->epc_bytes = epc;
	out->machine_pages_per_s = out->pages / machine;
	out->core_pages_per_s = out->pages / core;
	out->ratio = core / machine;
out_src:
	munmap(src, size);
	return ret;
}
