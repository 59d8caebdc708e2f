/*
 * view.c: application views of an enclave (view.h): a shared mapping of the
 * enclave's contents object, registered with userfaultfd for missing and
 * minor faults, with one handler thread that serves them through the
 * enclave's fault path, and the reclaimer's zap of a page in every view.
 *
 * Why the mapping is safe against the reclaimer: a fault is resolved
 * (UFFDIO_CONTINUE) under the enclave's lock after the page was found
 * resident and not being reclaimed; a write-back marks the page being
 * reclaimed under that lock before it zaps the views and reads the page
 * through the emulator's mapping.  So no view maps a page while EWB
 * encrypts it, and a write through a view can never be lost: after the
 * zap, a touch faults and the handler waits for the write-back to finish
 * and loads the page again.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "epc/core_internal.h"
#include "sgxemu/view.h"

/* Newer than some systems' headers (Linux 5.11, 6.1 and 6.6 UAPI). */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#define _UFFDIO_POISON 0x08
struct uffdio_poison {
	struct uffdio_range range;
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* Fault messages read at once by a handler. */
#define VIEW_MSG_BATCH 16

struct sgx_encl_view {
	struct sgx_encl *encl;
	struct list_head link; /* encl->views, under encl->views_lock */
	uint8_t *addr;
	uint64_t size;
	int uffd;
	int stop_fd; /* eventfd: the handler thread returns when it fires */
	bool has_poison; /* UFFDIO_POISON; else SIGBUS goes to the thread */
	pid_t pid;
	pid_t fault_tid; /* the thread whose fault is served (handler only) */
	pthread_t thread;
	_Atomic uint64_t minor_faults;
	_Atomic uint64_t missing_faults;
	_Atomic uint64_t sigbus;
};

/* ---- userfaultfd ------------------------------------------------------------- */

/* A userfaultfd: the system call in user-mode-only mode (allowed to
 * unprivileged processes by default), else /dev/userfaultfd.  Non-blocking,
 * close-on-exec.  fd or -errno (the system call's when both fail). */
static int uffd_open(void)
{
	int fd, dev, err;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		return fd;
	err = -errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd >= 0 ? fd : err;
}

/* The features this kernel offers (UFFDIO_API can be asked once per
 * descriptor, so a probe descriptor answers).  0 or -errno. */
static int uffd_features(uint64_t *features)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_open();
	int ret = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api))
		ret = -errno;
	else
		*features = api.features;
	close(fd);
	return ret;
}

/* ---- Fault handling ------------------------------------------------------ */

static void view_wake(struct sgx_encl_view *view, uint64_t offset)
{
	struct uffdio_range r = { .start = (uintptr_t)view->addr + offset, .len = SGX_PAGE_SIZE };

	(void)ioctl(view->uffd, UFFDIO_WAKE, &r);
}

/* The faulting access gets SIGBUS: a poisoned entry in the view, which
 * every access takes until a zap clears it. */
static void view_sigbus(struct sgx_encl_view *view, uint64_t offset, pid_t tid)
{
	atomic_fetch_add_explicit(&view->sigbus, 1, memory_order_relaxed);
	if (view->has_poison) {
		struct uffdio_poison p = {
			.range = { .start = (uintptr_t)view->addr + offset, .len = SGX_PAGE_SIZE },
		};

		if (ioctl(view->uffd, UFFDIO_POISON, &p) == 0)
			return;
		if (errno == EEXIST) {
			/* Mapped meanwhile by another fault of this view. */
			view_wake(view, offset);
			return;
		}
	}
	/* No poisoned entries here: the signal interrupts the thread's wait;
	 * if its handler returns, the access faults again and comes back. */
	if (tid > 0)
		(void)syscall(SYS_tgkill, view->pid, tid, SIGBUS);
	else
		view_wake(view, offset);
}

/* Called by encl_view_fault() with the enclave's lock held. */
static int view_resolve(struct sgx_encl_view *view, uint64_t offset, int err)
{
	struct uffdio_continue c = {
		.range = { .start = (uintptr_t)view->addr + offset, .len = SGX_PAGE_SIZE },
	};

	if (err) {
		view_sigbus(view, offset, view->fault_tid);
		return err;
	}
	if (ioctl(view->uffd, UFFDIO_CONTINUE, &c) == 0)
		return 0;
	if (errno == EEXIST) {
		/* Another fault of this view mapped it: wake this one. */
		view_wake(view, offset);
		return 0;
	}
	/* Cannot be while the page is resident and the view mapped; wake the
	 * thread, whose access faults again. */
	view_wake(view, offset);
	return 0;
}

static void view_fault(struct sgx_encl_view *view, const struct uffd_msg *msg)
{
	uint64_t addr = msg->arg.pagefault.address;
	pid_t tid = (pid_t)msg->arg.pagefault.feat.ptid;
	uint64_t offset;

	if (addr < (uintptr_t)view->addr || addr - (uintptr_t)view->addr >= view->size)
		return; /* cannot be: the registration covers the view only */
	offset = (addr - (uintptr_t)view->addr) & ~(uint64_t)(SGX_PAGE_SIZE - 1);
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR)
		atomic_fetch_add_explicit(&view->minor_faults, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&view->missing_faults, 1, memory_order_relaxed);
	view->fault_tid = tid;
	(void)encl_view_fault(view->encl, offset, view_resolve, view);
}

static void *view_main(void *arg)
{
	struct sgx_encl_view *view = arg;
	struct uffd_msg msgs[VIEW_MSG_BATCH];

	/* Loads here may run ELDU: make the cipher contexts now. */
	(void)sgx_cpu_paging_prepare(view->encl->core->cpu);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = view->uffd, .events = POLLIN },
			{ .fd = view->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
		n = read(view->uffd, msgs, sizeof(msgs));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue; /* another wake-up took it */
		if (n < 0)
			break; /* the userfaultfd itself failed: polling it again would spin */
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				view_fault(view, &msgs[i]);
	}
	return NULL;
}

/* ---- Creation and destruction ----------------------------------------------- */

int sgx_encl_view_create(struct sgx_encl *encl, struct sgx_encl_view **out)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct sgx_encl_view *view;
	uint64_t features = 0;
	int ret;

	if (!encl || !out)
		return -EINVAL;
	ret = uffd_features(&features);
	if (ret)
		return ret;
	if (!(features & UFFD_FEATURE_MINOR_SHMEM))
		return -EOPNOTSUPP;

	view = calloc(1, sizeof(*view));
	if (!view)
		return -ENOMEM;
	view->encl = encl;
	view->size = encl->size;
	view->pid = getpid();
	view->uffd = -1;
	view->stop_fd = -1;
	list_init(&view->link);

	view->addr = mmap(NULL, view->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			  encl->contents_fd, 0);
	if (view->addr == MAP_FAILED) {
		ret = -errno;
		goto err_free;
	}
	/* A child's copy would be neither registered with the userfaultfd
	 * (no UFFD_FEATURE_EVENT_FORK) nor zapped: it would read written-
	 * back pages as zeros and write past the fault path. */
	if (madvise(view->addr, view->size, MADV_DONTFORK)) {
		ret = -errno;
		goto err_unmap;
	}
	view->uffd = uffd_open();
	if (view->uffd < 0) {
		ret = view->uffd;
		goto err_unmap;
	}
	api.features = UFFD_FEATURE_MINOR_SHMEM | (features & UFFD_FEATURE_THREAD_ID) |
		       (features & UFFD_FEATURE_POISON);
	if (ioctl(view->uffd, UFFDIO_API, &api)) {
		ret = -errno;
		goto err_close;
	}
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)view->addr;
	reg.range.len = view->size;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(view->uffd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		goto err_close;
	}
	if (!(reg.ioctls & (1ULL << _UFFDIO_CONTINUE))) {
		ret = -EOPNOTSUPP;
		goto err_close;
	}
	view->has_poison = (features & UFFD_FEATURE_POISON) &&
			   (reg.ioctls & (1ULL << _UFFDIO_POISON));
	view->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (view->stop_fd < 0) {
		ret = -errno;
		goto err_close;
	}

	/* The view counts as a user of the enclave from here on. */
	pthread_rwlock_wrlock(&encl->views_lock);
	if (atomic_load(&encl->nr_views) >= SGX_ENCL_VIEWS_MAX) {
		pthread_rwlock_unlock(&encl->views_lock);
		ret = -ENOSPC;
		goto err_close;
	}
	atomic_fetch_add(&encl->users, 1);
	list_add_tail(&view->link, &encl->views);
	atomic_fetch_add(&encl->nr_views, 1);
	pthread_rwlock_unlock(&encl->views_lock);

	ret = pthread_create(&view->thread, NULL, view_main, view);
	if (ret) {
		ret = -ret;
		pthread_rwlock_wrlock(&encl->views_lock);
		list_del(&view->link);
		atomic_fetch_sub(&encl->nr_views, 1);
		pthread_rwlock_unlock(&encl->views_lock);
		/* The owner may have let go meanwhile: then this was the last
		 * hold, and the release is ours to make. */
		encl_users_put(encl);
		goto err_close;
	}
	*out = view;
	return 0;

err_close:
	if (view->stop_fd >= 0)
		close(view->stop_fd);
	close(view->uffd);
err_unmap:
	munmap(view->addr, view->size);
err_free:
	free(view);
	return ret;
}

void sgx_encl_view_destroy(struct sgx_encl_view *view)
{
	struct sgx_encl *encl;
	uint64_t one = 1;

	if (!view)
		return;
	encl = view->encl;
	/* No zap reaches the mapping once it is off the list. */
	pthread_rwlock_wrlock(&encl->views_lock);
	list_del(&view->link);
	atomic_fetch_sub(&encl->nr_views, 1);
	pthread_rwlock_unlock(&encl->views_lock);

	while (write(view->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(view->thread, NULL);
	/* Unmapped before the userfaultfd closes: a thread still waiting in a
	 * fault of the view is woken by the close and finds no mapping. */
	munmap(view->addr, view->size);
	close(view->uffd);
	close(view->stop_fd);
	free(view);
	encl_users_put(encl);
}

void *sgx_encl_view_addr(const struct sgx_encl_view *view)
{
	return view->addr;
}

void sgx_encl_view_stats(const struct sgx_encl_view *view, struct sgx_encl_view_stats *st)
{
	st->minor_faults = atomic_load_explicit(&view->minor_faults, memory_order_relaxed);
	st->missing_faults = atomic_load_explicit(&view->missing_faults, memory_order_relaxed);
	st->sigbus = atomic_load_explicit(&view->sigbus, memory_order_relaxed);
}

/* ---- The reclaimer's zap ---------------------------------------------------- */

void encl_views_zap(struct sgx_encl *encl, uint64_t offset)
{
	struct sgx_encl_view *view;

	if (!atomic_load_explicit(&encl->nr_views, memory_order_acquire))
		return;
	pthread_rwlock_rdlock(&encl->views_lock);
	list_for_each_entry(view, &encl->views, link)
		(void)madvise(view->addr + offset, SGX_PAGE_SIZE, MADV_DONTNEED);
	pthread_rwlock_unlock(&encl->views_lock);
}
