/*
 * backing.c: an enclave's memory objects: its contents object, where the
 * bytes of its resident pages live, and its backing object, which holds
 * the pages written back, with its accounting.
 *
 * The contents object is a memfd of the enclave's size (DESIGN.md,
 * Memory).  While page i is resident its frame's bytes are bound (with
 * sgx_cpu_frame_bind(), the platform's memory-controller mapping) to byte
 * i * 4096 of it, so that the emulator's mapping and every application
 * view (view.c) see the same page; when the page leaves the EPC its frame
 * gets its own bytes back and the object's page is zeroed (the core's
 * contents policy keep, core.h) or punched out (release), a written-back
 * page at the end of its reclaim batch, with its neighbours.  SECS and VA
 * pages keep their frames' own bytes.
 *
 * The backing object is a memfd with the kernel's layout (the kernel uses a
 * shmem file): enclave page i at byte i * 4096, the SECS at byte size, and
 * the PCMD of page i at byte size + 4096 + i * 128, 32 records to a page.
 * Its length is (size + 4096) + (size + 4096) / 32.  Write-backs store
 * with pwritev(), one call per run of consecutive pages, so that the
 * object's refusals are a write's (a file size limit, no space) and are
 * handled; loads read through the core's mapping of the object, as a
 * pread() per page cost a system call and a page-cache walk, more than the
 * copy.  Whoever holds the descriptor (a test playing the malicious kernel)
 * may write, punch or seal it, but not shrink it: the object is sealed
 * against shrinking (F_SEAL_SHRINK) at creation, since a truncated object
 * would make the mapping fault inside the emulator.  A page punched out
 * reads as zeros, which the processor refuses.  A load copies the page out
 * of the mapping before ELDU reads it, so that a concurrent writer cannot
 * change the bytes between the MAC check and the decryption.
 *
 * Accounting.  A page is charged each time it is written back: one page
 * for its contents and one for its PCMD page when no other record of that
 * PCMD page is in use (the kernel's patch charged contents only).  A page is
 * uncharged when it is loaded, and every remaining charge when the enclave
 * is torn down.  The counts of records per PCMD page are kept in memory,
 * not read back from the object, so a changed object cannot upset them.
 *
 * Release.  The memory of a loaded page's backing (its page punched out,
 * its PCMD record cleared, the PCMD page punched out once its last record
 * is gone) is released late (encl_backing_flush()): loaded pages join a
 * ring, and when it is full its older half is released, one punch per
 * run of consecutive pages; the whole ring goes whenever the object is
 * handed out (sgx_encl_backing_fd()).  The kernel truncates at each load;
 * here a punch and a system call per page on the fault path cost more
 * than the page's decryption, and a page punched out must be allocated
 * again by its next write-back.  A page written back again before its
 * release drops out of the ring, so that a release never punches contents
 * written since, and a streaming enclave, whose pages go out again soon
 * after they come in, reuses its backing memory instead of punching and
 * refaulting it.  So the object may hold, beyond the pages charged, up to
 * the ring's size (twice the EPC's pages, at most the enclave's own) of
 * pages no charge covers: host memory the overcommit limit does not see,
 * bounded by the EPC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "epc/core_internal.h"

#define PCMDS_PER_PAGE (SGX_PAGE_SIZE / sizeof(struct sgx_pcmd))

_Static_assert(PCMDS_PER_PAGE == 32, "32 PCMD records per page");

uint64_t sgx_encl_backing_page_offset(const struct sgx_encl *encl, uint64_t index)
{
	return index * SGX_PAGE_SIZE;
}

uint64_t sgx_encl_backing_pcmd_offset(const struct sgx_encl *encl, uint64_t index)
{
	return encl->size + SGX_PAGE_SIZE + index * sizeof(struct sgx_pcmd);
}

uint64_t sgx_encl_backing_size(const struct sgx_encl *encl)
{
	return encl->backing_size;
}

int sgx_encl_contents_fd(const struct sgx_encl *encl)
{
	return encl->contents_fd;
}

void *sgx_encl_contents_addr(const struct sgx_encl *encl)
{
	return encl->contents;
}

int sgx_encl_backing_fd(struct sgx_encl *encl)
{
	/* Whoever looks at the object sees every release done. */
	core_lock(&encl->lock);
	encl_backing_flush(encl);
	pthread_mutex_unlock(&encl->lock);
	return encl->backing_fd;
}

int encl_backing_create(struct sgx_encl *encl)
{
	uint64_t encl_size = encl->size + SGX_PAGE_SIZE;
	int fd;

	uint64_t frames = sgx_epc_nr_total(encl->core->epc);
	void *map;
	int err;

	encl->backing_size = encl_size + (encl_size >> 5);
	/* The release ring: twice the EPC, at most every page and the SECS. */
	encl->release_cap = frames * 2 < encl->nr_index + 1 ? frames * 2 : encl->nr_index + 1;
	if (encl->release_cap < 2 * ENCL_RELEASE_CHUNK)
		encl->release_cap = 2 * ENCL_RELEASE_CHUNK;
	encl->release = calloc(encl->release_cap, sizeof(*encl->release));
	if (!encl->release)
		return -ENOMEM;
	fd = memfd_create("sgx backing", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		err = -errno;
		goto err_ring;
	}
	if (ftruncate(fd, (off_t)encl->backing_size) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		err = -errno;
		goto err_fd;
	}
	map = mmap(NULL, encl->backing_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		   0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto err_fd;
	}
	encl->backing_fd = fd;
	encl->backing = map;
	return 0;

err_fd:
	close(fd);
err_ring:
	free(encl->release);
	encl->release = NULL;
	return err;
}

int encl_contents_create(struct sgx_encl *encl)
{
	void *view;
	int fd, err;

	fd = memfd_create("sgx enclave", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)encl->size))
		goto err;
	if (encl->core->contents_ops.map) {
		const struct sgx_core_contents_ops *ops = &encl->core->contents_ops;

		err = ops->map(ops->ctx, fd, encl->size, &view);
		if (err) {
			close(fd);
			return err < 0 ? err : -EIO;
		}
	} else {
		view = mmap(NULL, encl->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			    fd, 0);
		if (view == MAP_FAILED)
			goto err;
	}
	encl->contents_fd = fd;
	encl->contents = view;
	return 0;
err:
	err = -errno;
	close(fd);
	return err;
}

/* Undoes the contents mapping the way it was made. */
static void contents_unmap(struct sgx_encl *encl)
{
	const struct sgx_core_contents_ops *ops = &encl->core->contents_ops;

	if (ops->map) {
		if (ops->unmap)
			ops->unmap(ops->ctx, encl->contents, encl->size);
	} else {
		munmap(encl->contents, encl->size);
	}
}

/* Context: the enclave is unreachable (teardown). */
void encl_contents_destroy(struct sgx_encl *encl)
{
	/* A frame EREMOVE refused (a page removed while threads were inside,
	 * a frame that machine-checks) keeps its bytes here: the mapping
	 * stays, so that the processor never holds a dangling binding.  Such
	 * a frame is out of use while the machine lives anyway. */
	if (encl->contents && !encl->nr_bound)
		contents_unmap(encl);
	encl->contents = NULL;
	if (encl->contents_fd >= 0) {
		close(encl->contents_fd);
		encl->contents_fd = -1;
	}
}

int encl_frame_bind(struct sgx_encl *encl, struct sgx_epc_page *frame, uint64_t index)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(index < encl->nr_index);
	if (sgx_cpu_frame_bind(encl->core->cpu, frame->addr, encl_contents_page(encl, index)))
		return -EIO;
	encl->nr_bound++;
	return 0;
}

void encl_frame_unbind(struct sgx_encl *encl, struct sgx_epc_page *frame)
{
	struct sgx_cpu *cpu = encl->core->cpu;

	SGXEMU_ASSERT_HELD(&encl->lock);
	if (sgx_cpu_frame_bytes(cpu, frame->addr) == frame->addr)
		return; /* not bound (SECS, VA) */
	if (sgx_cpu_frame_bind(cpu, frame->addr, NULL) == 0) {
		SGXEMU_ASSERT(encl->nr_bound > 0);
		encl->nr_bound--;
	}
}

void encl_contents_punch_range(struct sgx_encl *encl, uint64_t index, uint64_t n)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(index + n <= encl->nr_index);
	if (encl->core->contents_policy == SGX_CONTENTS_KEEP) {
		/* No frame is bound there and no view maps it (the write-back
		 * zapped them, and a fault waits for this lock). */
		memset(encl_contents_page(encl, index), 0, n << SGX_PAGE_SHIFT);
		return;
	}
	(void)fallocate(encl->contents_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(index << SGX_PAGE_SHIFT), (off_t)(n << SGX_PAGE_SHIFT));
}

/* Context: encl->lock, or the enclave is unreachable (teardown). */
void encl_backing_destroy(struct sgx_encl *encl)
{
	if (encl->charged) {
		core_uncharge(encl->core, encl->charged);
		encl->charged = 0;
	}
	if (encl->backing) {
		munmap(encl->backing, encl->backing_size);
		encl->backing = NULL;
	}
	if (encl->backing_fd >= 0) {
		close(encl->backing_fd);
		encl->backing_fd = -1;
	}
	free(encl->release);
	encl->release = NULL;
}

/* Frees the object's memory of one page; a failure only keeps the memory. */
static void backing_punch(struct sgx_encl *encl, uint64_t byte)
{
	(void)fallocate(encl->backing_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)byte,
			SGX_PAGE_SIZE);
}

bool encl_backing_charge(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	uint64_t slot = encl_pcmd_slot(page->index);
	uint64_t need;

	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(slot < encl->nr_pcmd_slots);
	need = encl->pcmd_used[slot] ? 1 : 2;
	if (!core_try_charge(encl->core, need)) {
		core_count(encl->core, backing_limit_hits);
		return false;
	}
	if (encl->pcmd_used[slot]++ == 0)
		encl->nr_pcmd_pages++;
	/* Its backing page and record are about to be written: a release
	 * still pending from its last load must not punch them afterwards. */
	page->flags &= ~ENCL_PAGE_RELEASE_PENDING;
	encl->nr_in_flight++;
	encl->charged += need;
	return true;
}

void encl_backing_refund(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	uint64_t slot = encl_pcmd_slot(page->index);
	uint64_t n = 1;

	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(encl->nr_in_flight > 0 && encl->pcmd_used[slot] > 0);
	encl->nr_in_flight--;
	if (--encl->pcmd_used[slot] == 0) {
		encl->nr_pcmd_pages--;
		n++;
	}
	encl->charged -= n;
	core_uncharge(encl->core, n);
}

void encl_backing_commit(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(encl->nr_in_flight > 0);
	encl->nr_in_flight--;
	encl->nr_written_back++;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The object's bytes [off, off + len): inside it by construction. */
static uint8_t *backing_at(struct sgx_encl *encl, uint64_t off, size_t len)
{
	SGXEMU_ASSERT(off + len <= encl->backing_size);
	return encl->backing + off;
}

int encl_backing_write(struct sgx_encl *encl, uint64_t index, const void *contents,
		       const struct sgx_pcmd *pcmd)
{
	uint64_t pcmd_off = sgx_encl_backing_pcmd_offset(encl, index);
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	ret = write_full(encl->backing_fd, contents, SGX_PAGE_SIZE,
			 sgx_encl_backing_page_offset(encl, index));
	if (!ret)
		ret = write_full(encl->backing_fd, pcmd, sizeof(*pcmd), pcmd_off);
	if (!ret)
		return 0;
	/* The charge of a write-back that did not happen is refunded: take
	 * back the memory of whatever went in, so that the object holds no
	 * page no charge covers.  The PCMD page goes only if no other record
	 * there is in use (this page's in-flight charge counts one). */
	backing_punch(encl, sgx_encl_backing_page_offset(encl, index));
	if (encl->pcmd_used[encl_pcmd_slot(index)] <= 1)
		backing_punch(encl, pcmd_off & ~(SGX_PAGE_SIZE - 1));
	return ret;
}

/* Writes iov[0..n) at off in one call; 0, or -EIO unless all of it went
 * in at once (the caller then stores page by page). */
static int writev_once(int fd, struct iovec *iov, unsigned int n, size_t len, uint64_t off)
{
	return pwritev(fd, iov, (int)n, (off_t)off) == (ssize_t)len ? 0 : -EIO;
}

int encl_backing_write_run(struct sgx_encl *encl, uint64_t index, unsigned int n,
			   const void *const contents[], const struct sgx_pcmd *const pcmd[])
{
	struct iovec iov[SGX_RECLAIM_BATCH_MAX];
	int ret;

	SGXEMU_ASSERT(n >= 1 && n <= SGX_RECLAIM_BATCH_MAX && index + n <= encl->nr_index);
	for (unsigned int i = 0; i < n; i++)
		iov[i] = (struct iovec){ (void *)contents[i], SGX_PAGE_SIZE };
	ret = writev_once(encl->backing_fd, iov, n, (size_t)n * SGX_PAGE_SIZE,
			  sgx_encl_backing_page_offset(encl, index));
	if (ret)
		return ret;
	/* Consecutive pages have consecutive PCMD records. */
	for (unsigned int i = 0; i < n; i++)
		iov[i] = (struct iovec){ (void *)pcmd[i], sizeof(struct sgx_pcmd) };
	return writev_once(encl->backing_fd, iov, n, (size_t)n * sizeof(struct sgx_pcmd),
			   sgx_encl_backing_pcmd_offset(encl, index));
}

int encl_backing_read(struct sgx_encl *encl, uint64_t index, void *contents,
		      struct sgx_pcmd *pcmd)
{
	memcpy(contents,
	       backing_at(encl, sgx_encl_backing_page_offset(encl, index), SGX_PAGE_SIZE),
	       SGX_PAGE_SIZE);
	memcpy(pcmd, backing_at(encl, sgx_encl_backing_pcmd_offset(encl, index), sizeof(*pcmd)),
	       sizeof(*pcmd));
	return 0;
}

static void backing_release(struct sgx_encl *encl, uint64_t count);

void encl_backing_loaded(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	uint64_t slot = encl_pcmd_slot(page->index);
	uint64_t n = 1;

	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(encl->nr_written_back > 0 && encl->pcmd_used[slot] > 0);
	encl->nr_written_back--;
	if (--encl->pcmd_used[slot] == 0) {
		encl->nr_pcmd_pages--;
		n++;
	}
	encl->charged -= n;
	core_uncharge(encl->core, n);
	page->flags |= ENCL_PAGE_RELEASE_PENDING;
	if (encl->nr_release == encl->release_cap)
		backing_release(encl, encl->release_cap / 2);
	encl->release[(encl->release_head + encl->nr_release) % encl->release_cap] = page->index;
	encl->nr_release++;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Releases the backing memory of n indices, sorted and pending: their
 * pages' runs punched, their PCMD records cleared or PCMD pages punched. */
static void release_sorted(struct sgx_encl *encl, const uint64_t *idx, unsigned int n)
{
	/* The pages: SECS at byte size follows the last child's page, so a
	 * run may end with it. */
	for (unsigned int a = 0; a < n;) {
		unsigned int b = a + 1;

		while (b < n && idx[b] == idx[b - 1] + 1)
			b++;
		(void)fallocate(encl->backing_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)sgx_encl_backing_page_offset(encl, idx[a]),
				(off_t)(b - a) * SGX_PAGE_SIZE);
		a = b;
	}
	/* Their PCMD records, PCMD page by PCMD page. */
	for (unsigned int a = 0; a < n;) {
		uint64_t slot = encl_pcmd_slot(idx[a]);
		uint64_t pcmd_off = sgx_encl_backing_pcmd_offset(encl, idx[a]);
		unsigned int b = a + 1;

		if (encl->pcmd_used[slot] == 0) {
			while (b < n && encl_pcmd_slot(idx[b]) == slot)
				b++;
			backing_punch(encl, pcmd_off & ~(SGX_PAGE_SIZE - 1));
		} else {
			while (b < n && idx[b] == idx[b - 1] + 1 && encl_pcmd_slot(idx[b]) == slot)
				b++;
			memset(backing_at(encl, pcmd_off, (b - a) * sizeof(struct sgx_pcmd)), 0,
			       (b - a) * sizeof(struct sgx_pcmd));
		}
		a = b;
	}
}

/* Releases the oldest count entries of the ring (those whose page is
 * still pending), ENCL_RELEASE_CHUNK at a time. */
static void backing_release(struct sgx_encl *encl, uint64_t count)
{
	uint64_t idx[ENCL_RELEASE_CHUNK];

	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(count <= encl->nr_release);
	while (count) {
		unsigned int n = 0;

		while (count && n < ENCL_RELEASE_CHUNK) {
			uint64_t index = encl->release[encl->release_head];
			struct sgx_encl_page *page =
				index == encl->secs.index ? &encl->secs : encl->pages[index];

			encl->release_head = (encl->release_head + 1) % encl->release_cap;
			encl->nr_release--;
			count--;
			/* A page written back again since has new contents
			 * there (its charge cleared the flag); a page listed
			 * twice counts once. */
			if (!page || !(page->flags & ENCL_PAGE_RELEASE_PENDING))
				continue;
			page->flags &= ~ENCL_PAGE_RELEASE_PENDING;
			idx[n++] = index;
		}
		if (!n)
			continue;
		qsort(idx, n, sizeof(idx[0]), u64_cmp);
		release_sorted(encl, idx, n);
	}
}

void encl_backing_flush(struct sgx_encl *encl)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	backing_release(encl, encl->nr_release);
}
