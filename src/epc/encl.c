/*
 * encl.c: enclaves (encl.h), the kernel's encl.c and the build half of its
 * ioctl.c: creation (ECREATE), pages added (EADD, EEXTEND), EINIT, the
 * fault path that loads written-back pages (ELDU), the owner's access to
 * page bytes, and the teardown when the last reference goes.
 *
 * Locking is described in core_internal.h.  A path that needs an EPC page
 * while it holds encl->lock drops the lock, allocates (reclaiming if need
 * be), takes the lock again and looks at the page anew, as the kernel's
 * fault handler returns and lets the fault be retried.  (The kernel
 * allocates without reclaim under its lock first; here no allocation runs
 * under an enclave lock at all, so the page cache's reclaim lock never
 * nests inside one.)
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "epc/core_internal.h"

/* EINIT retries on SGX_UNMASKED_EVENT, as the kernel's sgx_encl_init(). */
#define EINIT_SPIN_COUNT 20
#define EINIT_SLEEP_COUNT 50
#define EINIT_SLEEP_MS 20

/* ---- References and teardown ---------------------------------------------- */

void encl_get(struct sgx_encl *encl)
{
	atomic_fetch_add(&encl->refcount, 1);
}

bool encl_get_unless_zero(struct sgx_encl *encl)
{
	unsigned long n = atomic_load(&encl->refcount);

	do {
		if (n == 0)
			return false;
	} while (!atomic_compare_exchange_weak(&encl->refcount, &n, n + 1));
	return true;
}

void encl_free_epc_page(struct sgx_encl *encl, struct sgx_epc_page *page)
{
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	ret = epc_eremove(encl->core->cpu, page);

	/* A frame EREMOVE refuses is still valid: handing it out again would
	 * give its next owner a page in use.  The kernel leaks it; here it is
	 * kept and EREMOVEd again later (core_leak_retry()).  A machine check
	 * of the frame itself leaves it to the page cache's quarantine; one
	 * of its SECS leaves it valid, so it is kept. */
	if (ret && !(encls_machine_checked(ret) && sgx_epc_page_poisoned(page))) {
		core_leak_frame(encl->core, page);
		return;
	}
	encl_frame_unbind(encl, page);
	sgx_free_epc_page(encl->core->epc, page);
	/* What kept earlier frames may have gone with this one (a child of
	 * their SECS, a thread that left). */
	core_leak_retry(encl->core);
}

/* Context: encl->lock. */
static int encl_check_locked(struct sgx_encl *encl, char *why, size_t why_len);

/* Context: no lock; the last reference is gone, so nothing else reaches
 * the enclave but sgx_core_check() until it is off the registry. */
static void encl_teardown(struct sgx_encl *encl)
{
	struct sgx_core *core = encl->core;
	struct sgx_encl_page *page, *tmp;

	pthread_mutex_lock(&core->encls_lock);
	list_del(&encl->core_link);
	core->nr_encls--;
	pthread_mutex_unlock(&core->encls_lock);

	core_lock(&encl->lock);
	SGXEMU_ASSERT(encl_check_locked(encl, NULL, 0) == 0);
	SGXEMU_ASSERT(encl->nr_in_flight == 0);
	list_for_each_entry_safe(page, tmp, &encl->page_list, link) {
		if (page->epc_page) {
			bool off_lru = core_lru_del(core, page->epc_page);

			/* No reclaimer holds a page: each holds a reference. */
			SGXEMU_ASSERT(off_lru);
			(void)off_lru;
			encl_free_epc_page(encl, page->epc_page);
			encl->secs_child_cnt--;
		}
		/* A written-back page's slot goes with its VA page below. */
		list_del(&page->link);
		encl->pages[page->index] = NULL;
		free(page);
	}
	if (encl->secs.epc_page) {
		encl_free_epc_page(encl, encl->secs.epc_page);
		encl->secs.epc_page = NULL;
	}
	encl_va_free_all(encl);
	encl_backing_destroy(encl);
	encl_contents_destroy(encl);
	pthread_mutex_unlock(&encl->lock);

	SGXEMU_ASSERT(list_empty(&encl->views));
	pthread_rwlock_destroy(&encl->views_lock);
	pthread_rwlock_destroy(&encl->hooks_lock);
	pthread_cond_destroy(&encl->reclaim_cond);
	pthread_mutex_destroy(&encl->lock);
	munmap(encl->pages, encl->pages_bytes);
	free(encl->pcmd_used);
	free(encl);
	/* Only a released enclave is torn down: the owner's reference is
	 * the last but the reclaimers'. */
	atomic_fetch_sub(&core->nr_dying, 1);
}

void encl_put(struct sgx_encl *encl)
{
	if (atomic_fetch_sub(&encl->refcount, 1) == 1)
		encl_teardown(encl);
}

/* The owner's release, once neither it nor any view holds the enclave. */
void encl_users_put(struct sgx_encl *encl)
{
	if (atomic_fetch_sub(&encl->users, 1) != 1)
		return;
	core_lock(&encl->lock);
	encl->flags |= ENCL_RELEASED;
	pthread_mutex_unlock(&encl->lock);
	atomic_fetch_add(&encl->core->nr_dying, 1);
	encl_put(encl);
}

void encl_hook_zap(struct sgx_encl *encl, uint64_t offset, enum sgx_encl_zap_reason why)
{
	if (!encl->has_hooks)
		return;
	pthread_rwlock_rdlock(&encl->hooks_lock);
	if (encl->ops && encl->ops->zap)
		encl->ops->zap(encl, offset, why, encl->ops_ctx);
	pthread_rwlock_unlock(&encl->hooks_lock);
}

void encl_hook_kick(struct sgx_encl *encl)
{
	if (!encl->has_hooks)
		return;
	pthread_rwlock_rdlock(&encl->hooks_lock);
	if (encl->ops && encl->ops->kick)
		encl->ops->kick(encl, encl->ops_ctx);
	pthread_rwlock_unlock(&encl->hooks_lock);
}

void sgx_encl_release(struct sgx_encl *encl)
{
	if (!encl)
		return;
	/* The owner's hook context may go once this returns: wait for a
	 * hook that runs, and call none after. */
	if (encl->has_hooks) {
		pthread_rwlock_wrlock(&encl->hooks_lock);
		encl->ops = NULL;
		encl->ops_ctx = NULL;
		pthread_rwlock_unlock(&encl->hooks_lock);
	}
	encl_users_put(encl);
}

/* ---- Creation ---------------------------------------------------------------- */

int sgx_encl_create(struct sgx_core *core, const struct sgx_secs *secs,
		    const struct sgx_encl_ops *ops, void *ops_ctx, struct sgx_encl **out)
{
	static const struct sgx_secinfo secinfo; /* type SECS, no permissions */
	struct sgx_pageinfo pginfo;
	struct sgx_epc_page *va_frame = NULL, *secs_frame = NULL;
	struct sgx_encl *encl;
	struct sgx_secs *src;
	unsigned int max_log;
	uint64_t size;
	int ret;

	if (!core || !secs || !out)
		return -EINVAL;
	size = secs->size;
	max_log = sgx_cpu_config(core->cpu)->max_enclave_size_64;
	if (size < 2 * SGX_PAGE_SIZE || (size & (size - 1)) ||
	    (max_log < 64 && size > (1ULL << max_log)))
		return -EINVAL;

	encl = calloc(1, sizeof(*encl));
	if (!encl)
		return -ENOMEM;
	encl->core = core;
	atomic_init(&encl->refcount, 1);
	pthread_rwlock_init(&encl->hooks_lock, NULL);
	encl->has_hooks = ops != NULL;
	encl->ops = ops;
	encl->ops_ctx = ops_ctx;
	encl->base = secs->base;
	encl->size = size;
	encl->nr_index = size >> SGX_PAGE_SHIFT;
	encl->backing_fd = -1;
	encl->contents_fd = -1;
	atomic_init(&encl->users, 1);
	pthread_rwlock_init(&encl->views_lock, NULL);
	list_init(&encl->views);
	list_init(&encl->core_link);
	list_init(&encl->page_list);
	list_init(&encl->va_pages);
	core_mutex_init(&encl->lock);
	pthread_cond_init(&encl->reclaim_cond, NULL);
	encl->secs.encl = encl;
	encl->secs.index = encl->nr_index;
	encl->secs.type = SGX_PAGE_TYPE_SECS;
	list_init(&encl->secs.link);

	/* The page tree: a pointer per page, in memory the system gives only
	 * where pages are added. */
	encl->pages_bytes = (encl->nr_index * sizeof(*encl->pages) + SGX_PAGE_SIZE - 1) &
			    ~(SGX_PAGE_SIZE - 1);
	encl->pages = mmap(NULL, encl->pages_bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (encl->pages == MAP_FAILED) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* One PCMD record per page and one for the SECS. */
	encl->nr_pcmd_slots = encl_pcmd_slot(encl->nr_index) + 1;
	encl->pcmd_used = calloc(encl->nr_pcmd_slots, 1);
	if (!encl->pcmd_used) {
		ret = -ENOMEM;
		goto err_unmap;
	}
	ret = encl_backing_create(encl);
	if (ret)
		goto err_pcmd;
	ret = encl_contents_create(encl);
	if (ret)
		goto err_backing;

	/* Neither allocation may hold the enclave's lock (reclaim); nobody
	 * else can see the enclave yet. */
	ret = sgx_alloc_epc_page(core->epc, NULL, true, &va_frame);
	if (ret)
		goto err_backing;
	ret = sgx_alloc_epc_page(core->epc, &encl->secs, true, &secs_frame);
	if (ret)
		goto err_va_frame;

	src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));
	if (!src) {
		ret = -ENOMEM;
		goto err_secs_frame;
	}
	memcpy(src, secs, sizeof(*src));
	memset(&pginfo, 0, sizeof(pginfo));
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	ret = epc_ecreate(core->cpu, &pginfo, secs_frame);
	free(src);
	if (ret) {
		ret = -EIO;
		goto err_secs_frame;
	}

	core_lock(&encl->lock);
	encl->secs.epc_page = secs_frame;
	if (secs->attributes & SGX_ATTR_DEBUG)
		encl->flags |= ENCL_DEBUG;
	/* The kernel's sgx_encl_create() grows first: the SECS is the
	 * enclave's first page, and its VA page the first VA page. */
	ret = encl_va_add_frame(encl, va_frame, NULL);
	if (!ret)
		encl->page_cnt = 1;
	if (ret) {
		encl->secs.epc_page = NULL;
		pthread_mutex_unlock(&encl->lock);
		ret = -EIO;
		goto err_secs_valid;
	}
	pthread_mutex_unlock(&encl->lock);

	pthread_mutex_lock(&core->encls_lock);
	list_add_tail(&encl->core_link, &core->encls);
	core->nr_encls++;
	pthread_mutex_unlock(&core->encls_lock);
	*out = encl;
	return 0;

err_secs_valid:
	core_lock(&encl->lock);
	encl_free_epc_page(encl, secs_frame);
	pthread_mutex_unlock(&encl->lock);
	secs_frame = NULL;
err_secs_frame:
	if (secs_frame)
		sgx_free_epc_page(core->epc, secs_frame);
err_va_frame:
	sgx_free_epc_page(core->epc, va_frame);
err_backing:
	encl_contents_destroy(encl);
	encl_backing_destroy(encl);
err_pcmd:
	free(encl->pcmd_used);
err_unmap:
	munmap(encl->pages, encl->pages_bytes);
err_free:
	pthread_rwlock_destroy(&encl->hooks_lock);
	pthread_rwlock_destroy(&encl->views_lock);
	pthread_cond_destroy(&encl->reclaim_cond);
	pthread_mutex_destroy(&encl->lock);
	free(encl);
	return ret;
}

/* ---- Adding pages ------------------------------------------------------------ */

/* A page counted by the kernel's VA policy was not added after all (the
 * kernel's sgx_encl_shrink()): uncount it, and free the VA page it grew,
 * whose slots nothing can have used while the lock was held.  Context:
 * encl->lock, held since the page was counted. */
static void encl_shrink(struct sgx_encl *encl, struct sgx_va_page *va)
{
	SGXEMU_ASSERT_HELD(&encl->lock);
	encl->page_cnt--;
	if (va)
		encl_va_remove(encl, va);
}

/* A page's maximum mapping permissions from the SECINFO the caller gave
 * (the kernel's sgx_encl_page_alloc()): its R, W and X as PROT_* bits; a
 * TCS also R and W, because the processor zeroes a TCS's EPCM permissions
 * while the CPU still reads and writes it. */
static uint8_t encl_max_prot(uint64_t secinfo_flags)
{
	uint8_t prot = 0;

	if (secinfo_flags & SGX_SECINFO_R)
		prot |= PROT_READ;
	if (secinfo_flags & SGX_SECINFO_W)
		prot |= PROT_WRITE;
	if (secinfo_flags & SGX_SECINFO_X)
		prot |= PROT_EXEC;
	if (((secinfo_flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT) ==
	    SGX_PAGE_TYPE_TCS)
		prot |= PROT_READ | PROT_WRITE;
	return prot;
}

int sgx_encl_add_page(struct sgx_encl *encl, uint64_t offset, const void *src,
		      const struct sgx_secinfo *secinfo, uint16_t extend_mask)
{
	struct sgx_core *core;
	struct sgx_pageinfo pginfo;
	struct sgx_secinfo si;
	struct sgx_encl_page *page;
	struct sgx_epc_page *frame, *va_frame = NULL;
	struct sgx_va_page *va = NULL;
	uint8_t *buf;
	uint64_t index;
	int ret;

	if (!encl || !src || !secinfo)
		return -EINVAL;
	if ((offset & (SGX_PAGE_SIZE - 1)) || offset >= encl->size)
		return -EINVAL;
	core = encl->core;
	index = offset >> SGX_PAGE_SHIFT;

	page = calloc(1, sizeof(*page));
	buf = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!page || !buf) {
		ret = -ENOMEM;
		goto err_free;
	}
	page->encl = encl;
	page->index = index;
	page->type = (uint8_t)((secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK) >>
			       SGX_SECINFO_PAGE_TYPE_SHIFT);
	page->max_prot = encl_max_prot(secinfo->flags);
	memcpy(buf, src, SGX_PAGE_SIZE);
	memcpy(&si, secinfo, sizeof(si));

	ret = sgx_alloc_epc_page(core->epc, page, true, &frame);
	if (ret)
		goto err_free;

	core_lock(&encl->lock);
	for (;;) {
		if (encl->flags & (ENCL_INITIALIZED | ENCL_RELEASED)) {
			ret = -EINVAL;
			goto err_unlock;
		}
		if (encl->pages[index]) {
			ret = -EBUSY;
			goto err_unlock;
		}
		if (!encl->secs.epc_page || (encl->flags & ENCL_SECS_POISONED)) {
			ret = -EIO; /* the SECS of an enclave being built stays resident */
			goto err_unlock;
		}
		if (!encl_va_grow_needed(encl) || va_frame)
			break;
		/* The kernel's VA policy (sgx_encl_grow()): this page needs a
		 * new VA page first.  No allocation runs under the lock:
		 * allocate, then look at the enclave anew. */
		pthread_mutex_unlock(&encl->lock);
		ret = sgx_alloc_epc_page(core->epc, NULL, true, &va_frame);
		if (ret) {
			sgx_free_epc_page(core->epc, frame);
			goto err_free;
		}
		core_lock(&encl->lock);
	}
	if (encl_va_grow_needed(encl)) {
		if (encl_va_add_frame(encl, va_frame, &va)) {
			ret = -EIO;
			goto err_unlock;
		}
		va_frame = NULL;
	}
	encl->page_cnt++;
	pginfo.addr = encl->base + offset;
	pginfo.contents = (uintptr_t)buf;
	pginfo.metadata = (uintptr_t)&si;
	pginfo.secs = (uintptr_t)encl_page_addr(encl->secs.epc_page);
	ret = encl_frame_bind(encl, frame, index);
	if (ret)
		goto err_shrink;
	ret = epc_eadd(core->cpu, &pginfo, frame);
	if (ret) {
		ret = -EIO;
		goto err_shrink;
	}
	for (unsigned int c = 0; c < SGX_PAGE_SIZE / SGX_EEXTEND_CHUNK; c++) {
		if (!(extend_mask & (1U << c)))
			continue;
		ret = epc_eextend(core->cpu, encl->secs.epc_page, frame, c * SGX_EEXTEND_CHUNK);
		if (ret) {
			encl_free_epc_page(encl, frame);
			encl_contents_punch(encl, index);
			encl_shrink(encl, va);
			pthread_mutex_unlock(&encl->lock);
			ret = -EIO;
			goto err_free;
		}
	}
	frame->owner = page;
	page->epc_page = frame;
	encl->pages[index] = page;
	list_add_tail(&page->link, &encl->page_list);
	encl->nr_pages++;
	encl->secs_child_cnt++;
	/* Reclaimable right away, as the kernel's sgx_encl_add_page() does. */
	core_lru_add(core, frame);
	pthread_mutex_unlock(&encl->lock);
	/* A view touched the offset before the page existed and was told it
	 * has none (a poisoned entry): let its next touch fault again. */
	encl_views_zap(encl, offset);
	free(buf);
	if (va_frame)
		sgx_free_epc_page(core->epc, va_frame); /* another add grew meanwhile */
	return 0;

err_shrink:
	encl_shrink(encl, va);
err_unlock:
	encl_frame_unbind(encl, frame);
	pthread_mutex_unlock(&encl->lock);
	sgx_free_epc_page(core->epc, frame); /* EADD did not run or failed */
	if (va_frame)
		sgx_free_epc_page(core->epc, va_frame);
err_free:
	free(buf);
	free(page);
	return ret;
}

/* ---- EINIT ---------------------------------------------------------------------- */

/* Context: encl->lock.  One EINIT with the kernel's MSR writes before it. */
static int encl_einit_once(struct sgx_encl *encl, const struct sgx_sigstruct *sig,
			   const struct sgx_einittoken *token, const uint8_t hash[32])
{
	struct sgx_cpu *cpu = encl->core->cpu;
	uint64_t feat = 0;

	if (sgx_cpu_rdmsr(cpu, MSR_IA32_FEAT_CTL, &feat) == 0 && (feat & FEAT_CTL_SGX_LC_ENABLED)) {
		for (unsigned int i = 0; i < 4; i++) {
			uint64_t v;

			memcpy(&v, hash + 8 * i, sizeof(v));
			sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, v);
		}
	}
	return epc_einit(cpu, sig, token, encl->secs.epc_page);
}

int sgx_encl_init(struct sgx_encl *encl, const struct sgx_sigstruct *sigstruct,
		  const struct sgx_einittoken *token, int *leaf_ret)
{
	struct sgx_einittoken tok;
	struct sgx_sigstruct *sig;
	uint8_t hash[32];
	unsigned int hash_len = 0;
	int ret = 0, leaf = 0;

	if (!encl || !sigstruct)
		return -EINVAL;
	sig = aligned_alloc(SGX_PAGE_SIZE, (sizeof(*sig) + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1));
	if (!sig)
		return -ENOMEM;
	memcpy(sig, sigstruct, sizeof(*sig));
	memset(&tok, 0, sizeof(tok));
	if (token)
		memcpy(&tok, token, sizeof(tok));
	if (!EVP_Digest(sig->modulus, sizeof(sig->modulus), hash, &hash_len, EVP_sha256(), NULL)) {
		free(sig);
		return -ENOMEM;
	}

	core_lock(&encl->lock);
	if (encl->flags & (ENCL_INITIALIZED | ENCL_RELEASED) || !encl->secs.epc_page) {
		ret = -EINVAL;
		goto out;
	}
	for (unsigned int i = 0; i < EINIT_SLEEP_COUNT; i++) {
		for (unsigned int j = 0; j < EINIT_SPIN_COUNT; j++) {
			leaf = encl_einit_once(encl, sig, &tok, hash);
			if (leaf != SGX_UNMASKED_EVENT)
				break;
		}
		if (leaf != SGX_UNMASKED_EVENT)
			break;
		nanosleep(&(struct timespec){ 0, EINIT_SLEEP_MS * 1000000L }, NULL);
	}
	if (encls_faulted(leaf))
		ret = -EIO;
	else if (leaf)
		ret = -EPERM;
	else
		encl->flags |= ENCL_INITIALIZED;
out:
	pthread_mutex_unlock(&encl->lock);
	if (leaf_ret)
		*leaf_ret = leaf;
	free(sig);
	return ret;
}

/* ---- The fault path ------------------------------------------------------------- */

/* A frame allocated with reclaim while the lock was dropped, kept for the
 * next attempt. */
struct load_ctx {
	struct sgx_epc_page *spare;
};

static void load_ctx_done(struct sgx_encl *encl, struct load_ctx *ctx)
{
	if (ctx->spare) {
		sgx_free_epc_page(encl->core->epc, ctx->spare);
		ctx->spare = NULL;
	}
}

/*
 * Context: encl->lock, dropped and retaken unless a spare frame is at hand:
 * no allocation is made under an enclave lock (the page cache's reclaim
 * takes enclave locks from inside it).  Returns 0 and a free frame,
 * -EAGAIN when the lock was dropped (the caller looks at its page again),
 * or the allocation's error.
 */
static int encl_get_frame(struct sgx_encl *encl, struct load_ctx *ctx, struct sgx_epc_page **out)
{
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	if (ctx->spare) {
		*out = ctx->spare;
		ctx->spare = NULL;
		return 0;
	}
	pthread_mutex_unlock(&encl->lock);
	ret = sgx_alloc_epc_page(encl->core->epc, NULL, true, &ctx->spare);
	core_lock(&encl->lock);
	return ret ? ret : -EAGAIN;
}

/*
 * ELDU of a written-back page into frame (the kernel's __sgx_encl_eldu()),
 * then the bookkeeping: the VA slot is free again, the backing punched out
 * and uncharged, a child joins the LRU young.  On failure the frame is
 * freed and the page stays written back.  Context: encl->lock; for a child
 * the SECS is resident.  0 or -EIO.
 */
static int encl_eldu(struct sgx_encl *encl, struct sgx_encl_page *page, struct sgx_epc_page *frame)
{
	static __thread uint8_t contents[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));
	struct sgx_core *core = encl->core;
	bool is_secs = page == &encl->secs;
	struct sgx_pageinfo pginfo;
	struct sgx_pcmd pcmd;
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	SGXEMU_ASSERT(!page->epc_page && page->va_page);
	ret = encl_backing_read(encl, page->index, contents, &pcmd);
	if (ret)
		goto err;
	if (!is_secs && encl_frame_bind(encl, frame, page->index))
		goto err;
	pginfo.addr = is_secs ? 0 : encl->base + (page->index << SGX_PAGE_SHIFT);
	pginfo.contents = (uintptr_t)contents;
	pginfo.metadata = (uintptr_t)&pcmd;
	pginfo.secs = is_secs ? 0 : (uintptr_t)encl_page_addr(encl->secs.epc_page);
	ret = epc_eldu(core->cpu, &pginfo, frame, encl_va_slot_addr(page->va_page, page->va_offset));
	if (ret)
		goto err;

	encl_va_free_slot(encl, page->va_page, page->va_offset);
	page->va_page = NULL;
	page->va_offset = 0;
	page->flags &= ~ENCL_PAGE_BLOCKED;
	frame->owner = page;
	page->epc_page = frame;
	encl_backing_loaded(encl, page);
	if (page->flags & ENCL_PAGE_VIEW_SIGBUS) {
		page->flags &= ~ENCL_PAGE_VIEW_SIGBUS;
		encl_views_zap(encl, page->index << SGX_PAGE_SHIFT);
	}
	if (is_secs) {
		core_count(core, secs_loaded);
	} else {
		encl->secs_child_cnt++;
		atomic_store_explicit(&page->young, true, memory_order_relaxed);
		core_lru_add(core, frame);
		encl->nr_eldus++;
		core_count(core, pages_loaded);
	}
	return 0;

err:
	core_count(core, load_failures);
	if (!is_secs) {
		/* ELDU cleared what it had decrypted; give the memory back. */
		encl_frame_unbind(encl, frame);
		encl_contents_punch(encl, page->index);
	}
	sgx_free_epc_page(core->epc, frame); /* ELDU did nothing to it */
	return -EIO;
}

static int encl_poison_error(struct sgx_encl *encl)
{
	core_count(encl->core, poison_errors);
	return -EHWPOISON;
}

/*
 * Makes page resident and usable by its owner (the kernel's
 * sgx_encl_load_page()): waits while a reclaimer writes it back, loads the
 * SECS first if it was written back, then the page.  Context: encl->lock
 * (dropped while waiting or allocating).  0, -EIO, -EHWPOISON, -ENOMEM,
 * -EINTR.
 */
static int encl_load(struct sgx_encl *encl, struct sgx_encl_page *page, struct load_ctx *ctx)
{
	struct sgx_encl_page *target;
	struct sgx_epc_page *frame;
	int ret;

	SGXEMU_ASSERT_HELD(&encl->lock);
	for (;;) {
		if ((encl->flags & ENCL_SECS_POISONED) || (page->flags & ENCL_PAGE_POISONED))
			return encl_poison_error(encl);
		if ((page->flags | encl->secs.flags) & ENCL_PAGE_BEING_RECLAIMED) {
			pthread_cond_wait(&encl->reclaim_cond, &encl->lock);
			continue;
		}
		if (page->epc_page) {
			if (sgx_epc_page_poisoned(page->epc_page)) {
				page->flags |= ENCL_PAGE_POISONED;
				return encl_poison_error(encl);
			}
			if (encl->secs.epc_page && sgx_epc_page_poisoned(encl->secs.epc_page)) {
				encl->flags |= ENCL_SECS_POISONED;
				return encl_poison_error(encl);
			}
			return 0;
		}
		target = page;
		if (page != &encl->secs && !encl->secs.epc_page)
			target = &encl->secs;
		ret = encl_get_frame(encl, ctx, &frame);
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		ret = encl_eldu(encl, target, frame);
		if (ret)
			return ret;
	}
}

static struct sgx_encl_page *encl_lookup(struct sgx_encl *encl, uint64_t offset)
{
	return encl->pages[offset >> SGX_PAGE_SHIFT];
}

static int encl_access(struct sgx_encl *encl, uint64_t offset, void *buf, size_t len, bool write)
{
	struct load_ctx ctx = { NULL };
	uint8_t *p = buf;
	int ret = 0;

	if (!encl || (!buf && len))
		return -EINVAL;
	if (offset > encl->size || len > encl->size - offset)
		return -EINVAL;

	core_lock(&encl->lock);
	while (len) {
		uint64_t in_page = offset & (SGX_PAGE_SIZE - 1);
		size_t n = SGX_PAGE_SIZE - in_page;
		struct sgx_encl_page *page = encl_lookup(encl, offset);
		uint8_t *frame;

		if (n > len)
			n = len;
		if (!page) {
			ret = -EFAULT;
			break;
		}
		ret = encl_load(encl, page, &ctx);
		if (ret)
			break;
		frame = encl_contents_page(encl, page->index) + in_page;
		if (write)
			memcpy(frame, p, n);
		else
			memcpy(p, frame, n);
		atomic_store_explicit(&page->young, true, memory_order_relaxed);
		p += n;
		offset += n;
		len -= n;
	}
	load_ctx_done(encl, &ctx);
	encl_assert_counts(encl);
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

int sgx_encl_read(struct sgx_encl *encl, uint64_t offset, void *buf, size_t len)
{
	return encl_access(encl, offset, buf, len, false);
}

int sgx_encl_write(struct sgx_encl *encl, uint64_t offset, const void *buf, size_t len)
{
	return encl_access(encl, offset, (void *)buf, len, true);
}

int sgx_encl_mark_young(struct sgx_encl *encl, uint64_t offset)
{
	struct sgx_encl_page *page;
	int ret = 0;

	if (!encl || offset >= encl->size)
		return -EINVAL;
	core_lock(&encl->lock);
	page = encl_lookup(encl, offset);
	if (page)
		atomic_store_explicit(&page->young, true, memory_order_relaxed);
	else
		ret = -EFAULT;
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

int sgx_encl_fault(struct sgx_encl *encl, uint64_t offset, unsigned int prot,
		   enum sgx_encl_fault_how *how)
{
	struct load_ctx ctx = { NULL };
	struct sgx_encl_page *page;
	bool was_resident;
	int ret;

	if (!encl || offset >= encl->size)
		return -EINVAL;
	prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
	core_lock(&encl->lock);
	page = encl_lookup(encl, offset);
	if (!page) {
		ret = -EFAULT;
	} else if (page->type == SGX_PAGE_TYPE_TCS) {
		ret = -EPERM;
	} else if ((page->max_prot & prot) != prot) {
		ret = -EACCES;
	} else {
		was_resident = page->epc_page && !(page->flags & ENCL_PAGE_BEING_RECLAIMED);
		ret = encl_load(encl, page, &ctx);
		if (!ret) {
			atomic_store_explicit(&page->young, true, memory_order_relaxed);
			if (how)
				*how = was_resident ? SGX_ENCL_FAULT_YOUNG : SGX_ENCL_FAULT_LOADED;
			encl->nr_faults++;
			core_count(encl->core, faults);
			if (!was_resident) {
				encl->nr_faults_loaded++;
				core_count(encl->core, faults_loaded);
			}
		}
	}
	load_ctx_done(encl, &ctx);
	encl_assert_counts(encl);
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

int sgx_encl_may_map_pages(struct sgx_encl *encl, uint64_t offset, uint64_t len,
			   unsigned int prot)
{
	uint64_t end, first, last;
	int ret = 0;

	if (!encl)
		return -EINVAL;
	prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
	if (offset >= encl->size || !len)
		return 0;
	end = len > encl->size - offset ? encl->size : offset + len;
	first = offset >> SGX_PAGE_SHIFT;
	last = (end + SGX_PAGE_SIZE - 1) >> SGX_PAGE_SHIFT;
	core_lock(&encl->lock);
	if (last - first <= encl->nr_pages) {
		for (uint64_t i = first; i < last && !ret; i++)
			if (encl->pages[i] && (~encl->pages[i]->max_prot & prot))
				ret = -EACCES;
	} else {
		/* A range wider than the pages added (a mapping of the whole
		 * range reserved): walk the pages, as the kernel's xarray
		 * walk visits only those present. */
		struct sgx_encl_page *page;

		list_for_each_entry(page, &encl->page_list, link)
			if (page->index >= first && page->index < last &&
			    (~page->max_prot & prot)) {
				ret = -EACCES;
				break;
			}
	}
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

int encl_view_fault(struct sgx_encl *encl, uint64_t offset,
		    int (*resolve)(struct sgx_encl_view *view, uint64_t offset, int err),
		    struct sgx_encl_view *view)
{
	struct load_ctx ctx = { NULL };
	struct sgx_encl_page *page;
	int ret;

	core_lock(&encl->lock);
	page = offset < encl->size ? encl_lookup(encl, offset) : NULL;
	if (!page) {
		ret = -EFAULT;
	} else {
		ret = encl_load(encl, page, &ctx);
		if (!ret)
			atomic_store_explicit(&page->young, true, memory_order_relaxed);
	}
	ret = resolve(view, offset, ret);
	if (ret && page)
		page->flags |= ENCL_PAGE_VIEW_SIGBUS;
	load_ctx_done(encl, &ctx);
	encl_assert_counts(encl);
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

/* ---- Threads inside ------------------------------------------------------------- */

/* Tries to enter before giving up with -EAGAIN: a TCS left blocked by a
 * write-back that gave up is written back and loaded again meanwhile. */
#define ENTER_TRIES 8

int sgx_encl_enter(struct sgx_encl *encl, uint64_t tcs_offset, struct sgx_cpu_thread *t)
{
	struct load_ctx ctx = { NULL };
	struct sgx_encl_page *page;
	int ret = -EAGAIN;

	if (!encl || !t || (tcs_offset & (SGX_PAGE_SIZE - 1)) || tcs_offset >= encl->size)
		return -EINVAL;
	if (t->tcs)
		return -EINVAL; /* inside already: EENTER would be #GP each time */
	for (unsigned int i = 0; i < ENTER_TRIES; i++) {
		bool blocked;

		core_lock(&encl->lock);
		page = encl_lookup(encl, tcs_offset);
		if (!page) {
			ret = -EFAULT;
		} else if (page->type != SGX_PAGE_TYPE_TCS ||
			   !(encl->flags & ENCL_INITIALIZED)) {
			ret = -EINVAL; /* EENTER would never take it */
		} else {
			ret = encl_load(encl, page, &ctx);
			if (!ret && !(page->flags & ENCL_PAGE_BLOCKED)) {
				if (sgx_cpu_thread_enter(encl->core->cpu, t,
							 encl_page_addr(page->epc_page)))
					ret = -EAGAIN;
				else
					atomic_store_explicit(&page->young, true,
							      memory_order_relaxed);
			} else if (!ret) {
				ret = -EAGAIN;
			}
		}
		blocked = page && page->epc_page && (page->flags & ENCL_PAGE_BLOCKED);
		load_ctx_done(encl, &ctx);
		pthread_mutex_unlock(&encl->lock);
		if (ret != -EAGAIN)
			return ret;
		/* A blocked TCS cannot be entered until it has been written back
		 * and loaded: do that now rather than wait for the reclaimer. */
		if (blocked)
			(void)sgx_encl_evict(encl, tcs_offset);
		else
			sched_yield();
	}
	return ret;
}

void sgx_encl_exit(struct sgx_encl *encl, struct sgx_cpu_thread *t)
{
	if (encl && t)
		sgx_cpu_thread_exit(encl->core->cpu, t);
}

/* ---- Eviction on request --------------------------------------------------------- */

static int encl_evict_secs(struct sgx_encl *encl)
{
	int ret;

	core_lock(&encl->lock);
	if (!encl->secs.epc_page)
		ret = -EALREADY;
	else if (sgx_epc_page_poisoned(encl->secs.epc_page))
		ret = -EHWPOISON;
	else if (!(encl->flags & ENCL_INITIALIZED) || encl->secs_child_cnt)
		ret = -EBUSY;
	else {
		/* Written back, its frame may have become a VA page rather
		 * than go back to the page cache: look at the SECS, not at
		 * the frames freed. */
		ret = encl_reclaim_secs(encl);
		if (ret >= 0)
			ret = encl->secs.epc_page ? -EBUSY : 0;
	}
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

int sgx_encl_evict(struct sgx_encl *encl, uint64_t offset)
{
	struct sgx_encl_page *page;
	struct sgx_epc_page *frame = NULL;
	int ret = 0, result = 0;

	if (!encl || (offset & (SGX_PAGE_SIZE - 1)) || offset > encl->size)
		return -EINVAL;
	if (offset == encl->size)
		return encl_evict_secs(encl);

	core_lock(&encl->lock);
	page = encl_lookup(encl, offset);
	if (!page)
		ret = -EFAULT;
	else if (!page->epc_page)
		ret = -EALREADY;
	else if (sgx_epc_page_poisoned(page->epc_page) || (page->flags & ENCL_PAGE_POISONED))
		ret = -EHWPOISON;
	else if ((page->flags & ENCL_PAGE_BEING_RECLAIMED) ||
		 !core_lru_isolate(encl->core, page->epc_page))
		ret = -EBUSY;
	else {
		frame = page->epc_page;
		encl_get(encl);
	}
	pthread_mutex_unlock(&encl->lock);
	if (!frame)
		return ret;
	core_busy_begin(encl->core);
	core_reclaim_chunk(encl->core, &frame, 1, false, &result);
	core_busy_end(encl->core);
	return result;
}

/* ---- Introspection ------------------------------------------------------------- */

uint64_t sgx_encl_base(const struct sgx_encl *encl)
{
	return encl->base;
}

uint64_t sgx_encl_size(const struct sgx_encl *encl)
{
	return encl->size;
}

bool sgx_encl_initialized(struct sgx_encl *encl)
{
	bool ret;

	core_lock(&encl->lock);
	ret = encl->flags & ENCL_INITIALIZED;
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

int sgx_encl_page_info(struct sgx_encl *encl, uint64_t offset, struct sgx_encl_page_info *info)
{
	struct sgx_encl_page *page;

	if (!encl || !info || (offset & (SGX_PAGE_SIZE - 1)) || offset > encl->size)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	core_lock(&encl->lock);
	page = offset == encl->size ? &encl->secs : encl_lookup(encl, offset);
	info->backing_offset = sgx_encl_backing_page_offset(encl, offset >> SGX_PAGE_SHIFT);
	info->pcmd_offset = sgx_encl_backing_pcmd_offset(encl, offset >> SGX_PAGE_SHIFT);
	if (page) {
		info->present = true;
		info->resident = page->epc_page != NULL;
		info->being_reclaimed = page->flags & ENCL_PAGE_BEING_RECLAIMED;
		info->blocked = page->flags & ENCL_PAGE_BLOCKED;
		info->poisoned = (page->flags & ENCL_PAGE_POISONED) ||
				 (page->epc_page && sgx_epc_page_poisoned(page->epc_page));
		info->type = page->type;
		info->max_prot = page->max_prot;
		info->young = atomic_load_explicit(&page->young, memory_order_relaxed);
		if (page->epc_page)
			info->epc_addr = encl_page_addr(page->epc_page);
		if (page->va_page)
			info->va_slot = encl_va_slot_addr(page->va_page, page->va_offset);
	}
	pthread_mutex_unlock(&encl->lock);
	return 0;
}

void sgx_encl_stats(struct sgx_encl *encl, struct sgx_encl_stats *st)
{
	memset(st, 0, sizeof(*st));
	core_lock(&encl->lock);
	st->pages = encl->nr_pages;
	st->resident = encl->secs_child_cnt;
	st->written_back = encl->nr_written_back;
	st->secs_resident = encl->secs.epc_page != NULL;
	st->va_pages = encl->nr_va_pages;
	st->va_slots_used = encl->nr_va_pages * SGX_VA_SLOT_COUNT - encl->va_free_slots;
	st->charged = encl->charged;
	st->pcmd_pages = encl->nr_pcmd_pages;
	st->writebacks = encl->nr_ewbs;
	st->loads = encl->nr_eldus;
	st->faults = encl->nr_faults;
	st->faults_loaded = encl->nr_faults_loaded;
	pthread_mutex_unlock(&encl->lock);
}

/* ---- Invariants ------------------------------------------------------------------ */

#define CHECK_EQ_WHY(a, b, what)                                                        \
	do {                                                                            \
		if ((uint64_t)(a) != (uint64_t)(b)) {                                   \
			if (why)                                                        \
				snprintf(why, why_len, "enclave %#" PRIx64 ": %s: %" PRIu64 \
					 " != %" PRIu64, encl->base, what, (uint64_t)(a),  \
					 (uint64_t)(b));                                \
			return -EUCLEAN;                                                \
		}                                                                       \
	} while (0)

static int encl_check_locked(struct sgx_encl *encl, char *why, size_t why_len)
{
	uint64_t resident = 0, written = 0, pcmd_sum = 0, pcmd_pages = 0, slots = 0, free_slots = 0;
	uint64_t va_pages = 0;
	struct sgx_encl_page *page;
	struct sgx_va_page *va;

	SGXEMU_ASSERT_HELD(&encl->lock);
	list_for_each_entry(page, &encl->page_list, link) {
		if (page->epc_page)
			resident++;
		else if (page->va_page)
			written++;
		if (page->epc_page && page->va_page)
			CHECK_EQ_WHY(0, 1, "page both resident and written back");
	}
	if (!encl->secs.epc_page && encl->secs.va_page)
		written++;
	for (uint64_t i = 0; i < encl->nr_pcmd_slots; i++) {
		pcmd_sum += encl->pcmd_used[i];
		pcmd_pages += encl->pcmd_used[i] != 0;
	}
	list_for_each_entry(va, &encl->va_pages, list) {
		unsigned int bits = 0;

		for (unsigned int w = 0; w < SGX_VA_SLOT_COUNT / 64; w++)
			bits += (unsigned int)__builtin_popcountll(va->used[w]);
		CHECK_EQ_WHY(bits, va->nr_used, "VA page bitmap vs count");
		slots += va->nr_used;
		free_slots += SGX_VA_SLOT_COUNT - va->nr_used;
		va_pages++;
	}
	CHECK_EQ_WHY(resident, encl->secs_child_cnt, "resident children vs child count");
	CHECK_EQ_WHY(written, encl->nr_written_back, "pages written back vs count");
	CHECK_EQ_WHY(slots, encl->nr_written_back + encl->nr_ewb_waiting + encl->nr_va_retired,
		     "VA slots in use vs pages written back");
	CHECK_EQ_WHY(free_slots, encl->va_free_slots, "VA free slots");
	CHECK_EQ_WHY(va_pages, encl->nr_va_pages, "VA pages");
	CHECK_EQ_WHY(encl->page_cnt, encl->nr_pages + 1, "pages counted vs children and SECS");
	if (encl->core->va_policy == SGX_VA_POLICY_KERNEL)
		CHECK_EQ_WHY(va_pages,
			     (encl->page_cnt + SGX_VA_SLOT_COUNT - 1) / SGX_VA_SLOT_COUNT +
				     encl->nr_va_spare,
			     "VA pages vs one per 512 pages (kernel policy)");
	CHECK_EQ_WHY(pcmd_sum, encl->nr_written_back + encl->nr_in_flight,
		     "PCMD records vs pages written back and in flight");
	CHECK_EQ_WHY(pcmd_pages, encl->nr_pcmd_pages, "PCMD pages in use");
	CHECK_EQ_WHY(encl->charged,
		     encl->nr_written_back + encl->nr_in_flight + encl->nr_pcmd_pages,
		     "charged vs pages written back + in flight + PCMD pages");
	return 0;
}

int encl_check(struct sgx_encl *encl, char *why, size_t why_len)
{
	int ret;

	core_lock(&encl->lock);
	ret = encl_check_locked(encl, why, why_len);
	pthread_mutex_unlock(&encl->lock);
	return ret;
}
