/*
 * bench_epc.c: `sgxemu bench epc`: the SGX core's rates, each beside the
 * machine's floor for the same work, all from one run:
 *
 *   allocation  alloc+free pairs through the page cache at 1 and 2 threads,
 *               and the same work on one free list under one mutex (the
 *               kernel's design before per-node lists);
 *   paging      EWB, with the EBLOCK and ETRACK the kernel issues before
 *               it, and ELDU of every page of an initialized enclave,
 *               against raw AES-128-GCM over the same 4096 bytes per page;
 *   reclaim     the reclaimer's sustained write-back rate while one owner
 *               streams through an enclave several times the EPC;
 *   views       the fault round trips of an application view (a minor
 *               fault after the aging's zap; a touch of a written-back
 *               page, with ELDU) against a bare userfaultfd handler thread.
 *
 * Every measurement runs EPC_ROUNDS times, the floors interleaved with the
 * emulator's runs so that a neighbour's burst on a shared machine hits
 * both; the best of each counts.  Nothing here decides pass or fail of the
 * command: targets are printed beside the figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bench/bench.h"
#include "sgxemu/core.h"
#include "sgxemu/epc.h"
#include "sgxemu/view.h"
#include "tools/bench.h"
#include "tools/build.h"
#include "tools/json.h"
#include "tools/tools.h"

#define EPC_ROUNDS 3

/* Allocation. */
#define ALLOC_EPC_BYTES (64ULL << 20)
#define ALLOC_ITERATIONS 2000000
#define ALLOC_QUICK_ITERATIONS 20000
#define ALLOC_MAX_THREADS 64
#define ALLOC_MAX_ITERATIONS 10000000000ULL

/* Paging: enclave pages EWB'd and ELDU'd per round. */
#define PAGING_PAGES 16384
#define PAGING_QUICK_PAGES 256
#define PAGING_MIN_PAGES 16
#define PAGING_MAX_PAGES (1U << 18) /* 1 GiB of EPC, 2 GiB of buffers */
#define VA_SLOTS (SGX_PAGE_SIZE / SGX_VA_SLOT_SIZE)
#define GCM_IV_SIZE 12
#define GCM_TAG_SIZE 16

/* Reclaim: a streaming enclave RECLAIM_OVERCOMMIT times the EPC. */
#define RECLAIM_EPC_BYTES (16ULL << 20)
#define RECLAIM_QUICK_EPC_BYTES (1ULL << 20)
#define RECLAIM_OVERCOMMIT 4
#define RECLAIM_PASSES 2

/* Views: fault round trips per round (sgx_bench_view()). */
#define VIEW_FAULTS 4000
#define VIEW_QUICK_FAULTS 400

/* Targets, and real hardware for reference: one EPC page swap is about
 * 40K cycles, 13 us. */
#define TARGET_ALLOC_NS 50.0
#define TARGET_SPEEDUP 1.7
#define TARGET_PAGING_RATIO 0.5
#define TARGET_RECLAIM_RATIO 0.3
#define TARGET_PER_1K_ALLOCS 1.0
#define HW_SWAP_US 13.0

enum { OPT_JSON = 256, OPT_THREADS, OPT_ITER, OPT_PAGES, OPT_QUICK };

static const struct tool_opt epc_opts[] = {
	{ .name = "quick", .val = OPT_QUICK,
	  .doc = "Small sizes, for tests: the figures are not meaningful." },
	{ .name = "iterations", .val = OPT_ITER, .arg = "N",
	  .doc = "Allocation: alloc+free pairs per thread, 1..10^10.",
	  .def_kind = TOOL_DEF_DEC, .def = ALLOC_ITERATIONS,
	  .def_text = "(" TOOL_STR(ALLOC_QUICK_ITERATIONS) " with --quick)." },
	{ .name = "threads", .val = OPT_THREADS, .arg = "N",
	  .doc = "Allocation: also measure at N threads, 1.." TOOL_STR(ALLOC_MAX_THREADS)
		 " (N above 2 adds a run).",
	  .def_text = "allocation is measured at 1 and 2 threads." },
	{ .name = "pages", .val = OPT_PAGES, .arg = "N",
	  .doc = "Paging: the enclave's pages written back and loaded per round, "
		 TOOL_STR(PAGING_MIN_PAGES) "..2^18.",
	  .def_kind = TOOL_DEF_DEC, .def = PAGING_PAGES,
	  .def_text = "(" TOOL_STR(PAGING_QUICK_PAGES) " with --quick)." },
	TOOL_JSON_OPTION(OPT_JSON, "the options in effect (quick, rounds, "
				   "alloc_free_iterations, paging_pages) and every figure: "
				   "alloc_free_ns_1t, alloc_free_ns_2t, alloc_free_speedup_2t, "
				   "mutex_alloc_free_ns_1t, ewb_pages_per_s, eldu_pages_per_s, "
				   "aes_gcm_pages_per_s, ewb_ratio, eldu_ratio, "
				   "reclaim_pages_per_s, reclaim_ratio, "
				   "reclaim_load_floor_ratio, steals_per_1k_allocs, "
				   "global_lock_per_1k_allocs, ..."),
	TOOL_HELP_OPTION,
	{ 0 },
};

const struct tool_doc bench_epc_doc = {
	.name = "bench epc",
	.summary = "the SGX core's allocation, paging and reclaim rates, each beside "
		   "the machine's floor",
	.synopsis = "sgxemu bench epc [--json] [--quick] [--iterations N] [--threads N]\n"
		    "                 [--pages N]",
	.description =
		"The SGX core's rates and the machine's floors, from one run, best of "
		TOOL_STR(EPC_ROUNDS) " rounds with the floors interleaved.  Nothing here "
		"passes or fails: the targets are printed beside the figures.\n"
		"\n"
		"allocation: EPC page alloc+free pairs through the page cache with 1 "
		"and 2 threads, and the same work on one free list under one mutex with "
		"a shared atomic free count (the kernel's old design).  Targets: <= 50 "
		"ns per pair on one thread; 2 threads >= 1.7 times one (speedup = pairs "
		"per second at 2 threads / at 1).\n"
		"\n"
		"paging: an initialized enclave is written back and loaded again with "
		"the leaves: EBLOCK of 16 pages, ETRACK, EWB of the 16 (the kernel's "
		"batch), then ELDU of every page.  ewb counts the whole sequence per "
		"page, ewb_leaf the EWB leaf alone.  The floor is AES-128-GCM (EVP, "
		"pre-keyed, fresh IV per page) of the same 4096 bytes plus a 16-byte "
		"tag; ratio = emulator rate / floor rate (EWB against encryption, ELDU "
		"against decryption), target >= 0.5.  Every page is checked after the "
		"last load.\n"
		"\n"
		"reclaim: pages the reclaimer writes back per second while one owner "
		"touches, in order, an enclave " TOOL_STR(RECLAIM_OVERCOMMIT) " times a "
		"16 MiB EPC (two passes; 1 MiB and one pass with --quick).  Real SGX "
		"swaps a page in about 40K cycles (13 us).  reclaim_ratio = reclaim "
		"pages/s / AES-GCM encrypt pages/s of the same run (each page written "
		"back is one EWB and, streaming, one ELDU), target >= 0.3.  Meanwhile, "
		"per 1000 EPC allocations: pages stolen from another thread's cache, "
		"and takes of the page cache's machine-wide lock (its registry of thread "
		"caches).  Targets: <= 1 each.  Also shown: reclaim lock takes to wake "
		"the reclaimer, and direct reclaims.  The owner's floor: per page, the "
		"host operations the core's load of a written-back page makes (a 4 KiB "
		"and a 128-byte copy out of the mapped backing object, the 4 KiB write "
		"into the contents object's page, kept in memory, and the clearing of "
		"the PCMD record) plus one AES-GCM decryption "
		"(reclaim_load_floor_pages_per_s, and reclaim_load_floor_ratio = reclaim "
		"pages/s over it).\n"
		"\n"
		"views: the fault round trips of an application view (a minor fault "
		"after the aging's zap; a touch of a written-back page, with ELDU) "
		"against a bare userfaultfd handler thread.",
	.opts = epc_opts,
	.exit_ok = "Every measurement ran and every page checked was right.",
	.exit_fail = "A measurement could not run or a page came back wrong.",
	.examples = " sgxemu bench epc\n sgxemu bench epc --quick --json\n"
		    " sgxemu bench --json epc --threads 4",
};

struct alloc_run {
	unsigned int threads;
	double ns, mutex_ns; /* best per pair */
};

/* Best times of one paging round's parts, in seconds over all pages. */
struct paging_times {
	double ewb_seq; /* EBLOCK + ETRACK + EWB, the whole sequence */
	double eblock, etrack, ewb_leaf;
	double eldu;
	double aes_enc, aes_dec, sha;
};

/*
 * An initialized enclave built with the leaves (no page cache), the VA
 * pages for its slots, and buffers for what EWB writes out.  plain holds
 * every page's bytes: the layout's pages point into it, and the floors
 * encrypt and hash it.
 */
struct paging_bench {
	uint64_t pages;
	struct sgx_layout layout;
	struct sgx_sigstruct sigstruct;
	struct sgx_cpu *cpu;
	struct build_enclave encl;
	bool built;
	void **va; /* EPC address of VA page i */
	uint64_t nr_va, nr_va_made;
	uint8_t *plain;
	uint8_t *out; /* EWB's page output, also the floor's ciphertext */
	struct sgx_pcmd *pcmd; /* EWB's PCMDs; the floor's tags go to .mac */
	EVP_CIPHER_CTX *enc, *dec;
	EVP_MD_CTX *md;
	uint64_t iv_next; /* the floor's IV counter: fresh IV per page */
	/* Where a leaf failed, for the message. */
	const char *leaf;
	int leaf_ret;
	uint64_t leaf_page;
};

struct epc_bench {
	bool json, quick;
	unsigned int rounds;
	uint64_t iterations;
	struct alloc_run alloc[3]; /* 1, 2, and --threads N */
	int nr_alloc;
	struct paging_bench pb;
	struct paging_times best;
	/* Reclaim. */
	struct sgx_cpu *reclaim_cpu;
	uint64_t reclaim_epc_bytes, reclaim_frames, reclaim_pages;
	unsigned int reclaim_passes;
	double reclaim_pps;
	double load_host_us; /* best, per page: the host operations of a load */
	uint64_t reclaim_allocs, reclaim_steals, reclaim_global_locks;
	uint64_t reclaim_wake_locks, reclaim_direct;
	/* Views; view_err is why there are none (no userfaultfd here). */
	struct sgx_bench_view view;
	int view_err;
};

/* --- Allocation ------------------------------------------------------------ */

/* One machine per measurement, so neither run inherits the other's state. */
static int alloc_measure(bool mutex, unsigned int threads, uint64_t iterations, double *ns)
{
	struct sgx_cpu *cpu;
	int ret;

	ret = build_machine(0, ALLOC_EPC_BYTES, SGX_LC_WRITABLE, &cpu);
	if (ret)
		return tool_fail("bench", "cannot create a machine: %s", strerror(-ret));
	if (mutex)
		ret = sgx_epc_bench_mutex_baseline(cpu, threads, iterations, ns);
	else
		ret = sgx_epc_bench_alloc(cpu, threads, iterations, ns);
	sgx_cpu_destroy(cpu);
	if (ret)
		return tool_fail("bench", "%s with %u threads failed: %s",
				 mutex ? "mutex baseline" : "page cache", threads, strerror(-ret));
	return 0;
}

static int alloc_round(struct epc_bench *b)
{
	for (int i = 0; i < b->nr_alloc; i++) {
		struct alloc_run *r = &b->alloc[i];
		double ns;
		int ret;

		ret = alloc_measure(false, r->threads, b->iterations, &ns);
		if (ret)
			return ret;
		r->ns = fmin(r->ns, ns);
		ret = alloc_measure(true, r->threads, b->iterations, &ns);
		if (ret)
			return ret;
		r->mutex_ns = fmin(r->mutex_ns, ns);
	}
	return 0;
}

/* --- Paging: the enclave ---------------------------------------------------- */

static uint8_t *pb_plain(const struct paging_bench *pb, uint64_t i)
{
	return pb->plain + i * SGX_PAGE_SIZE;
}

static uint8_t *pb_out(const struct paging_bench *pb, uint64_t i)
{
	return pb->out + i * SGX_PAGE_SIZE;
}

static void *pb_slot(const struct paging_bench *pb, uint64_t i)
{
	return (uint8_t *)pb->va[i / VA_SLOTS] + (i % VA_SLOTS) * SGX_VA_SLOT_SIZE;
}

static int pb_leaf_fail(struct paging_bench *pb, const char *leaf, int ret, uint64_t page)
{
	pb->leaf = leaf;
	pb->leaf_ret = ret;
	pb->leaf_page = page;
	return 1;
}

/* Page 0 a TCS, the rest RW REG pages of random bytes; only the TCS is
 * measured (the rate of EADD is not what this measures). */
static int pb_layout(struct paging_bench *pb)
{
	struct sgx_layout *l = &pb->layout;
	struct sgx_tcs *tcs;
	uint64_t size = 2 * SGX_PAGE_SIZE;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;

	while (size < pb->pages * SGX_PAGE_SIZE)
		size <<= 1;
	memset(l, 0, sizeof(*l));
	l->size = size;
	l->ssa_frame_size = 1;
	l->attributes = SGX_ATTR_MODE64BIT;
	l->xfrm = SGX_XFRM_LEGACY;
	l->nr_pages = pb->pages;
	l->pages = calloc(pb->pages, sizeof(*l->pages));
	if (!l->pages)
		return -ENOMEM;
	for (uint64_t i = 0; i < pb->pages * SGX_PAGE_SIZE / 8; i++) {
		rng ^= rng >> 12;
		rng ^= rng << 25;
		rng ^= rng >> 27;
		((uint64_t *)pb->plain)[i] = rng * 0x2545F4914F6CDD1DULL;
	}
	tcs = (struct sgx_tcs *)pb->plain;
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = 2 * SGX_PAGE_SIZE;
	tcs->fs_limit = 0xfff;
	tcs->gs_limit = 0xfff;
	for (uint64_t i = 0; i < pb->pages; i++) {
		l->pages[i].offset = i * SGX_PAGE_SIZE;
		l->pages[i].secinfo_flags = i ? SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W
					      : SGX_SECINFO_TCS;
		l->pages[i].measure = i == 0;
		l->pages[i].data = pb_plain(pb, i);
	}
	return 0;
}

static int pb_sign(struct paging_bench *pb)
{
	struct sgx_sign_params p;
	uint8_t mrenclave[32];
	EVP_PKEY *key;
	int ret;

	tool_sign_defaults(&p);
	ret = demo_key_load(&key);
	if (ret)
		return ret;
	ret = sgx_layout_measure(&pb->layout, mrenclave);
	if (!ret)
		ret = sgx_sigstruct_sign(key, &p, mrenclave, &pb->sigstruct);
	EVP_PKEY_free(key);
	return ret;
}

/* The floors' contexts, keyed once with a random key. */
static int pb_floor_contexts(struct paging_bench *pb)
{
	uint8_t key[16];

	pb->enc = EVP_CIPHER_CTX_new();
	pb->dec = EVP_CIPHER_CTX_new();
	pb->md = EVP_MD_CTX_new();
	if (!pb->enc || !pb->dec || !pb->md || RAND_bytes(key, sizeof(key)) != 1)
		return -ENOMEM;
	if (!EVP_EncryptInit_ex(pb->enc, EVP_aes_128_gcm(), NULL, key, NULL) ||
	    !EVP_DecryptInit_ex(pb->dec, EVP_aes_128_gcm(), NULL, key, NULL))
		return -EIO;
	return 0;
}

/*
 * Makes everything the paging rounds use: buffers (touched now, so no
 * round pays the host's first-touch faults), the signed layout, a machine
 * with room for the SECS, the pages and the VA pages, the enclave built
 * and initialized, and the VA pages (EPA).  0, 1 when a leaf failed (pb
 * says which), or -errno.
 */
static int paging_setup(struct paging_bench *pb)
{
	uint64_t frames;
	struct build_status st;
	int ret;

	pb->nr_va = (pb->pages + VA_SLOTS - 1) / VA_SLOTS;
	pb->plain = aligned_alloc(SGX_PAGE_SIZE, pb->pages * SGX_PAGE_SIZE);
	pb->out = aligned_alloc(SGX_PAGE_SIZE, pb->pages * SGX_PAGE_SIZE);
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	pb->pcmd = aligned_alloc(_Alignof(struct sgx_pcmd), pb->pages * sizeof(*pb->pcmd));
	pb->va = calloc(pb->nr_va, sizeof(*pb->va));
	if (!pb->plain || !pb->out || !pb->pcmd || !pb->va)
		return -ENOMEM;
	memset(pb->out, 0, pb->pages * SGX_PAGE_SIZE);
	memset(pb->pcmd, 0, pb->pages * sizeof(*pb->pcmd));
	ret = pb_floor_contexts(pb);
	if (ret)
		return ret;
	ret = pb_layout(pb);
	if (ret)
		return ret;
	ret = pb_sign(pb);
	if (ret)
		return ret;

	frames = build_frames_needed(&pb->layout) + pb->nr_va;
	ret = build_machine(frames, 0, SGX_LC_WRITABLE, &pb->cpu);
	if (ret)
		return ret;
	ret = build_enclave(pb->cpu, &pb->layout, &pb->sigstruct, 0, &pb->encl, &st);
	pb->built = true;
	if (ret > 0)
		return pb_leaf_fail(pb, st.leaf, st.ret, st.offset / SGX_PAGE_SIZE);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < pb->nr_va; i++) {
		void *epc = sgx_cpu_frame_addr(pb->cpu, build_frames_needed(&pb->layout) + i);

		ret = encls_epa(pb->cpu, epc);
		if (ret)
			return pb_leaf_fail(pb, "EPA", ret, i);
		pb->va[i] = epc;
		pb->nr_va_made = i + 1;
	}
	/* This thread's paging contexts now, not inside the first round. */
	return sgx_cpu_paging_prepare(pb->cpu);
}

/* Removes the enclave and the VA pages.  0, or 1 if a frame stayed valid
 * (reported only after a clean run: a failed round may leave pages out). */
static int paging_teardown(struct paging_bench *pb)
{
	int ret = 0;

	if (pb->built)
		build_remove(&pb->encl);
	for (uint64_t i = 0; i < pb->nr_va_made; i++)
		encls_eremove(pb->cpu, pb->va[i]);
	if (pb->cpu) {
		ret = sgx_cpu_nr_valid(pb->cpu) ? 1 : 0;
		sgx_cpu_destroy(pb->cpu);
	}
	sgx_layout_free(&pb->layout);
	EVP_CIPHER_CTX_free(pb->enc);
	EVP_CIPHER_CTX_free(pb->dec);
	EVP_MD_CTX_free(pb->md);
	free(pb->va);
	free(pb->pcmd);
	free(pb->out);
	free(pb->plain);
	return ret;
}

/* --- Paging: the measurements ---------------------------------------------- */

/*
 * Writes every page back the kernel's way: per batch of SGX_NR_TO_SCAN
 * pages, EBLOCK each, one ETRACK (no thread is inside, so the epoch
 * completes at once), then EWB each into the next VA slot.  Each phase is
 * timed on its own.
 */
static int paging_ewb(struct paging_bench *pb, struct paging_times *t)
{
	struct sgx_pageinfo pi = { 0 };
	struct sgx_cpu *cpu = pb->cpu;
	double start, t0, t1, t2, t3;
	int ret;

	t->eblock = t->etrack = t->ewb_leaf = 0;
	start = bench_now();
	for (uint64_t first = 0; first < pb->pages; first += SGX_NR_TO_SCAN) {
		uint64_t end = first + SGX_NR_TO_SCAN < pb->pages ? first + SGX_NR_TO_SCAN
								  : pb->pages;

		t0 = bench_now();
		for (uint64_t i = first; i < end; i++) {
			ret = encls_eblock(cpu, pb->encl.epc[i]);
			if (ret)
				return pb_leaf_fail(pb, "EBLOCK", ret, i);
		}
		t1 = bench_now();
		ret = encls_etrack(cpu, pb->encl.secs);
		if (ret)
			return pb_leaf_fail(pb, "ETRACK", ret, first);
		t2 = bench_now();
		for (uint64_t i = first; i < end; i++) {
			pi.contents = (uint64_t)(uintptr_t)pb_out(pb, i);
			pi.metadata = (uint64_t)(uintptr_t)&pb->pcmd[i];
			ret = encls_ewb(cpu, &pi, pb->encl.epc[i], pb_slot(pb, i));
			if (ret)
				return pb_leaf_fail(pb, "EWB", ret, i);
		}
		t3 = bench_now();
		t->eblock += t1 - t0;
		t->etrack += t2 - t1;
		t->ewb_leaf += t3 - t2;
	}
	t->ewb_seq = bench_now() - start;
	return 0;
}

/* Loads every page back into its frame (ELDU), as the fault handler does. */
static int paging_eldu(struct paging_bench *pb, double *secs)
{
	struct sgx_pageinfo pi = { 0 };
	double start = bench_now();
	int ret;

	pi.secs = (uint64_t)(uintptr_t)pb->encl.secs;
	for (uint64_t i = 0; i < pb->pages; i++) {
		pi.addr = pb->encl.base + pb->layout.pages[i].offset;
		pi.contents = (uint64_t)(uintptr_t)pb_out(pb, i);
		pi.metadata = (uint64_t)(uintptr_t)&pb->pcmd[i];
		ret = encls_eldu(pb->cpu, &pi, pb->encl.epc[i], pb_slot(pb, i));
		if (ret)
			return pb_leaf_fail(pb, "ELDU", ret, i);
	}
	*secs = bench_now() - start;
	return 0;
}

static void floor_iv(uint64_t n, uint8_t iv[GCM_IV_SIZE])
{
	memset(iv, 0, GCM_IV_SIZE);
	memcpy(iv, &n, sizeof(n));
}

/* The floor of EWB: AES-128-GCM of every page into the output buffer,
 * with a fresh IV and the 16-byte tag into the page's PCMD. */
static int floor_encrypt(struct paging_bench *pb, uint64_t iv_base, double *secs)
{
	uint8_t iv[GCM_IV_SIZE];
	double start = bench_now();
	int len;

	for (uint64_t i = 0; i < pb->pages; i++) {
		floor_iv(iv_base + i, iv);
		if (!EVP_EncryptInit_ex(pb->enc, NULL, NULL, NULL, iv) ||
		    !EVP_EncryptUpdate(pb->enc, pb_out(pb, i), &len, pb_plain(pb, i), SGX_PAGE_SIZE) ||
		    !EVP_EncryptFinal_ex(pb->enc, pb_out(pb, i) + len, &len) ||
		    !EVP_CIPHER_CTX_ctrl(pb->enc, EVP_CTRL_GCM_GET_TAG, GCM_TAG_SIZE, pb->pcmd[i].mac))
			return -EIO;
	}
	*secs = bench_now() - start;
	return 0;
}

/* The floor of ELDU: decrypts what floor_encrypt() wrote (back over the
 * same plaintext) and checks each tag.  -EBADMSG if a tag does not match. */
static int floor_decrypt(struct paging_bench *pb, uint64_t iv_base, double *secs)
{
	uint8_t iv[GCM_IV_SIZE];
	double start = bench_now();
	int len;

	for (uint64_t i = 0; i < pb->pages; i++) {
		floor_iv(iv_base + i, iv);
		if (!EVP_DecryptInit_ex(pb->dec, NULL, NULL, NULL, iv) ||
		    !EVP_DecryptUpdate(pb->dec, pb_plain(pb, i), &len, pb_out(pb, i), SGX_PAGE_SIZE) ||
		    !EVP_CIPHER_CTX_ctrl(pb->dec, EVP_CTRL_GCM_SET_TAG, GCM_TAG_SIZE, pb->pcmd[i].mac))
			return -EIO;
		if (EVP_DecryptFinal_ex(pb->dec, pb_plain(pb, i) + len, &len) <= 0)
			return -EBADMSG;
	}
	*secs = bench_now() - start;
	return 0;
}

/* For context: SHA-256 of each page. */
static int floor_sha256(struct paging_bench *pb, double *secs)
{
	uint8_t digest[32];
	unsigned int dlen;
	double start = bench_now();

	for (uint64_t i = 0; i < pb->pages; i++) {
		if (!EVP_DigestInit_ex(pb->md, EVP_sha256(), NULL) ||
		    !EVP_DigestUpdate(pb->md, pb_plain(pb, i), SGX_PAGE_SIZE) ||
		    !EVP_DigestFinal_ex(pb->md, digest, &dlen))
			return -EIO;
	}
	*secs = bench_now() - start;
	return 0;
}

/* Every REG page is back in its frame with its bytes.  The tool reads the
 * frames directly, as only an emulator can: the check of the round trip.
 * Returns the number of pages that differ. */
static uint64_t paging_verify(struct paging_bench *pb)
{
	uint64_t bad = 0;

	for (uint64_t i = 1; i < pb->pages; i++)
		bad += memcmp(pb->encl.epc[i], pb_plain(pb, i), SGX_PAGE_SIZE) != 0;
	return bad;
}

static void times_min(struct paging_times *best, const struct paging_times *t)
{
	best->ewb_seq = fmin(best->ewb_seq, t->ewb_seq);
	best->eblock = fmin(best->eblock, t->eblock);
	best->etrack = fmin(best->etrack, t->etrack);
	best->ewb_leaf = fmin(best->ewb_leaf, t->ewb_leaf);
	best->eldu = fmin(best->eldu, t->eldu);
	best->aes_enc = fmin(best->aes_enc, t->aes_enc);
	best->aes_dec = fmin(best->aes_dec, t->aes_dec);
	best->sha = fmin(best->sha, t->sha);
}

/* One round: the floors, then EWB of every page, then ELDU of every page. */
static int paging_round(struct epc_bench *b)
{
	struct paging_bench *pb = &b->pb;
	struct paging_times t = { 0 };
	uint64_t iv_base = pb->iv_next;
	int ret;

	pb->iv_next += pb->pages;
	ret = floor_sha256(pb, &t.sha);
	if (!ret)
		ret = floor_encrypt(pb, iv_base, &t.aes_enc);
	if (!ret)
		ret = floor_decrypt(pb, iv_base, &t.aes_dec);
	if (ret)
		return tool_fail("bench", "AES-GCM floor failed: %s", strerror(-ret));
	ret = paging_ewb(pb, &t);
	if (!ret)
		ret = paging_eldu(pb, &t.eldu);
	if (ret)
		return tool_fail("bench", "%s failed on page %llu: %s", pb->leaf,
				 (unsigned long long)pb->leaf_page, sgx_error_name(pb->leaf_ret));
	times_min(&b->best, &t);
	return 0;
}

/* --- Reclaim ---------------------------------------------------------------- */

/*
 * The host's part of loading a written-back page, page after page, as the
 * core makes it (backing.c, encl.c): copy the page and its PCMD record out
 * of the core's mapping of the backing object, write the page into the
 * contents object (mapped, its page kept in memory under the default
 * contents policy) and clear the PCMD record.  The release of the backing
 * page is left out: a streaming enclave writes its pages back again before
 * the release ring reaches them.  The best time per page in us.
 */
static int load_host_floor(uint64_t pages, double *us)
{
	uint64_t pcmd_base = pages * SGX_PAGE_SIZE, bsize = pcmd_base + pages * 128;
	uint8_t *buf = NULL, *map = MAP_FAILED, *bmap = MAP_FAILED, pcmd[128];
	int cfd = -1, bfd = -1, ret = -EIO;
	double start;

	buf = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	cfd = memfd_create("bench contents", MFD_CLOEXEC);
	bfd = memfd_create("bench backing", MFD_CLOEXEC);
	if (!buf || cfd < 0 || bfd < 0 || ftruncate(cfd, (off_t)pcmd_base) ||
	    ftruncate(bfd, (off_t)bsize))
		goto out;
	map = mmap(NULL, pcmd_base, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
	bmap = mmap(NULL, bsize, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	if (map == MAP_FAILED || bmap == MAP_FAILED)
		goto out;
	/* Every page written back, and every contents page in memory. */
	memset(bmap, 0x5a, bsize);
	memset(map, 0, pcmd_base);
	start = bench_now();
	for (uint64_t i = 0; i < pages; i++) {
		uint8_t *rec = bmap + pcmd_base + i * sizeof(pcmd);

		memcpy(buf, bmap + i * SGX_PAGE_SIZE, SGX_PAGE_SIZE);
		memcpy(pcmd, rec, sizeof(pcmd));
		memcpy(map + i * SGX_PAGE_SIZE, buf, SGX_PAGE_SIZE);
		memset(rec, 0, sizeof(pcmd));
		/* Keep the copies from being optimized away. */
		__asm__ volatile("" : : "r"(buf), "r"(pcmd) : "memory");
	}
	*us = 1e6 * (bench_now() - start) / (double)pages;
	ret = 0;
out:
	if (map != MAP_FAILED)
		munmap(map, pcmd_base);
	if (bmap != MAP_FAILED)
		munmap(bmap, bsize);
	if (cfd >= 0)
		close(cfd);
	if (bfd >= 0)
		close(bfd);
	free(buf);
	return ret;
}

static int reclaim_round(struct epc_bench *b)
{
	struct sgx_bench_reclaim r;
	double us;
	int ret;

	ret = sgx_bench_reclaim_run(b->reclaim_cpu, b->reclaim_pages, b->reclaim_passes, &r);
	if (ret)
		return tool_fail("bench", "reclaim benchmark failed: %s", strerror(-ret));
	if (sgx_cpu_nr_valid(b->reclaim_cpu))
		return tool_fail("bench", "reclaim benchmark left %llu EPC pages valid",
				 (unsigned long long)sgx_cpu_nr_valid(b->reclaim_cpu));
	b->reclaim_pps = fmax(b->reclaim_pps, r.pages_per_s);
	ret = load_host_floor(b->reclaim_pages, &us);
	if (ret)
		return tool_fail("bench", "host floor of a load failed: %s", strerror(-ret));
	b->load_host_us = b->load_host_us > 0 ? fmin(b->load_host_us, us) : us;
	/* The allocation paths' counts add up over the rounds. */
	b->reclaim_allocs += r.allocs;
	b->reclaim_steals += r.steals;
	b->reclaim_global_locks += r.global_locks;
	b->reclaim_wake_locks += r.wake_locks;
	b->reclaim_direct += r.direct_reclaims;
	return 0;
}

/* --- Views ------------------------------------------------------------------- */

static bool view_unavailable(int err)
{
	return err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP || err == -EACCES;
}

static int view_round(struct epc_bench *b, unsigned int round)
{
	struct sgx_bench_view v;
	int ret;

	if (b->view_err)
		return 0;
	ret = sgx_bench_view(b->reclaim_cpu, b->quick ? VIEW_QUICK_FAULTS : VIEW_FAULTS, &v);
	if (view_unavailable(ret)) {
		b->view_err = ret;
		return 0;
	}
	if (ret)
		return tool_fail("bench", "view benchmark failed: %s", strerror(-ret));
	if (sgx_cpu_nr_valid(b->reclaim_cpu))
		return tool_fail("bench", "view benchmark left %llu EPC pages valid",
				 (unsigned long long)sgx_cpu_nr_valid(b->reclaim_cpu));
	if (round == 0) {
		b->view = v;
		return 0;
	}
	b->view.minor_fault_us = fmin(b->view.minor_fault_us, v.minor_fault_us);
	b->view.eldu_fault_us = fmin(b->view.eldu_fault_us, v.eldu_fault_us);
	b->view.uffd_floor_us = fmin(b->view.uffd_floor_us, v.uffd_floor_us);
	b->view.zap_us = fmin(b->view.zap_us, v.zap_us);
	b->view.minor_fault_cross_us = fmin(b->view.minor_fault_cross_us, v.minor_fault_cross_us);
	b->view.eldu_fault_cross_us = fmin(b->view.eldu_fault_cross_us, v.eldu_fault_cross_us);
	b->view.uffd_floor_cross_us = fmin(b->view.uffd_floor_cross_us, v.uffd_floor_cross_us);
	return 0;
}

/* --- Output ------------------------------------------------------------------ */

static double per_s(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0;
}

static const char *verdict(bool ok)
{
	return ok ? "PASS" : "MISS";
}

struct epc_figures {
	double ns1, ns2, mutex1, mutex2, speedup, mutex_speedup;
	double ewb, ewb_leaf, eldu, aes, aes_dec, sha;
	double ewb_ratio, ewb_leaf_ratio, eldu_ratio, reclaim_ratio;
	double load_floor, load_floor_ratio;
	double steals_1k, global_lock_1k; /* under the streaming workload */
	double wake_lock_1k, direct_1k;
	bool pass_alloc, pass_speedup, pass_ewb, pass_eldu, pass_reclaim;
	bool pass_steals, pass_global_lock;
};

static void epc_figures(const struct epc_bench *b, struct epc_figures *f)
{
	uint64_t n = b->pb.pages;

	f->ns1 = b->alloc[0].ns;
	f->ns2 = b->alloc[1].ns;
	f->mutex1 = b->alloc[0].mutex_ns;
	f->mutex2 = b->alloc[1].mutex_ns;
	/* ns per pair is wall time over all pairs: throughput's inverse. */
	f->speedup = f->ns1 / f->ns2;
	f->mutex_speedup = f->mutex1 / f->mutex2;
	f->ewb = per_s(n, b->best.ewb_seq);
	f->ewb_leaf = per_s(n, b->best.ewb_leaf);
	f->eldu = per_s(n, b->best.eldu);
	f->aes = per_s(n, b->best.aes_enc);
	f->aes_dec = per_s(n, b->best.aes_dec);
	f->sha = per_s(n, b->best.sha);
	f->ewb_ratio = f->ewb / f->aes;
	f->ewb_leaf_ratio = f->ewb_leaf / f->aes;
	/* ELDU decrypts: its floor is the decryption of the same pages. */
	f->eldu_ratio = f->eldu / f->aes_dec;
	/* A page reclaimed costs an EWB (and, streaming, an ELDU): its floor
	 * is the encryption of one page. */
	f->reclaim_ratio = b->reclaim_pps / f->aes;
	f->load_floor = 1e6 / (b->load_host_us + 1e6 / f->aes_dec);
	f->load_floor_ratio = b->reclaim_pps / f->load_floor;
	f->pass_alloc = f->ns1 <= TARGET_ALLOC_NS;
	f->pass_speedup = f->speedup >= TARGET_SPEEDUP;
	f->pass_ewb = f->ewb_ratio >= TARGET_PAGING_RATIO;
	f->pass_eldu = f->eldu_ratio >= TARGET_PAGING_RATIO;
	f->pass_reclaim = f->reclaim_ratio >= TARGET_RECLAIM_RATIO;
	f->steals_1k = b->reclaim_allocs ? 1000.0 * b->reclaim_steals / b->reclaim_allocs : 0;
	f->global_lock_1k =
		b->reclaim_allocs ? 1000.0 * b->reclaim_global_locks / b->reclaim_allocs : 0;
	f->wake_lock_1k = b->reclaim_allocs ? 1000.0 * b->reclaim_wake_locks / b->reclaim_allocs : 0;
	f->direct_1k = b->reclaim_allocs ? 1000.0 * b->reclaim_direct / b->reclaim_allocs : 0;
	f->pass_steals = f->steals_1k <= TARGET_PER_1K_ALLOCS;
	f->pass_global_lock = f->global_lock_1k <= TARGET_PER_1K_ALLOCS;
}

static void epc_print_json(const struct epc_bench *b, const struct epc_figures *f)
{
	uint64_t n = b->pb.pages;
	struct json j;

	json_init(&j, stdout);
	json_begin_object(&j, NULL);
	json_string(&j, "benchmark", "epc");
	json_bool(&j, "quick", b->quick);
	json_u64(&j, "rounds", b->rounds);
	/* Allocation. */
	json_u64(&j, "alloc_free_iterations", b->iterations);
	json_double(&j, "alloc_free_ns_1t", f->ns1);
	json_double(&j, "alloc_free_ns_2t", f->ns2);
	json_double(&j, "alloc_free_speedup_2t", f->speedup);
	json_double(&j, "mutex_alloc_free_ns_1t", f->mutex1);
	json_double(&j, "mutex_alloc_free_ns_2t", f->mutex2);
	json_double(&j, "mutex_alloc_free_speedup_2t", f->mutex_speedup);
	json_begin_array(&j, "alloc_runs");
	for (int i = 0; i < b->nr_alloc; i++) {
		json_begin_object(&j, NULL);
		json_u64(&j, "threads", b->alloc[i].threads);
		json_double(&j, "alloc_free_ns", b->alloc[i].ns);
		json_double(&j, "mutex_alloc_free_ns", b->alloc[i].mutex_ns);
		json_end_object(&j);
	}
	json_end_array(&j);
	/* Paging. */
	json_u64(&j, "paging_pages", n);
	json_double(&j, "ewb_pages_per_s", f->ewb);
	json_double(&j, "ewb_leaf_pages_per_s", f->ewb_leaf);
	json_double(&j, "eblock_ns_per_page", 1e9 * b->best.eblock / n);
	json_double(&j, "etrack_ns_per_page", 1e9 * b->best.etrack / n);
	json_double(&j, "eldu_pages_per_s", f->eldu);
	json_double(&j, "aes_gcm_pages_per_s", f->aes);
	json_double(&j, "aes_gcm_decrypt_pages_per_s", f->aes_dec);
	json_double(&j, "sha256_pages_per_s", f->sha);
	json_double(&j, "ewb_ratio", f->ewb_ratio);
	json_double(&j, "ewb_leaf_ratio", f->ewb_leaf_ratio);
	json_double(&j, "eldu_ratio", f->eldu_ratio);
	/* Reclaim. */
	json_double(&j, "reclaim_pages_per_s", b->reclaim_pps);
	json_double(&j, "reclaim_ratio", f->reclaim_ratio);
	json_double(&j, "reclaim_load_host_us", b->load_host_us);
	json_double(&j, "reclaim_load_floor_pages_per_s", f->load_floor);
	json_double(&j, "reclaim_load_floor_ratio", f->load_floor_ratio);
	json_u64(&j, "reclaim_epc_pages", b->reclaim_frames);
	json_u64(&j, "reclaim_enclave_pages", b->reclaim_pages);
	json_u64(&j, "reclaim_passes", b->reclaim_passes);
	json_u64(&j, "reclaim_allocs", b->reclaim_allocs);
	json_double(&j, "steals_per_1k_allocs", f->steals_1k);
	json_double(&j, "global_lock_per_1k_allocs", f->global_lock_1k);
	json_double(&j, "wake_lock_per_1k_allocs", f->wake_lock_1k);
	json_double(&j, "direct_reclaims_per_1k_allocs", f->direct_1k);
	json_double(&j, "hw_page_swap_us", HW_SWAP_US);
	/* Views (null where userfaultfd is not available). */
	if (b->view_err) {
		json_null(&j, "view_minor_fault_us");
		json_null(&j, "view_eldu_fault_us");
		json_null(&j, "uffd_floor_us");
		json_null(&j, "view_minor_ratio");
		json_null(&j, "madv_dontneed_us");
		json_null(&j, "view_minor_fault_cross_us");
		json_null(&j, "view_eldu_fault_cross_us");
		json_null(&j, "uffd_floor_cross_us");
	} else {
		json_double(&j, "view_minor_fault_us", b->view.minor_fault_us);
		json_double(&j, "view_eldu_fault_us", b->view.eldu_fault_us);
		json_double(&j, "uffd_floor_us", b->view.uffd_floor_us);
		json_double(&j, "view_minor_ratio",
			    b->view.uffd_floor_us > 0
				    ? b->view.minor_fault_us / b->view.uffd_floor_us
				    : 0);
		json_double(&j, "madv_dontneed_us", b->view.zap_us);
		/* 0 where this process may run on one CPU only. */
		json_double(&j, "view_minor_fault_cross_us", b->view.minor_fault_cross_us);
		json_double(&j, "view_eldu_fault_cross_us", b->view.eldu_fault_cross_us);
		json_double(&j, "uffd_floor_cross_us", b->view.uffd_floor_cross_us);
	}
	/* Targets and how each figure stands against its own. */
	json_begin_object(&j, "targets");
	json_double(&j, "alloc_free_ns_1t", TARGET_ALLOC_NS);
	json_double(&j, "alloc_free_speedup_2t", TARGET_SPEEDUP);
	json_double(&j, "ewb_ratio", TARGET_PAGING_RATIO);
	json_double(&j, "eldu_ratio", TARGET_PAGING_RATIO);
	json_double(&j, "reclaim_ratio", TARGET_RECLAIM_RATIO);
	json_double(&j, "steals_per_1k_allocs", TARGET_PER_1K_ALLOCS);
	json_double(&j, "global_lock_per_1k_allocs", TARGET_PER_1K_ALLOCS);
	json_end_object(&j);
	json_begin_object(&j, "pass");
	json_bool(&j, "alloc_free_ns_1t", f->pass_alloc);
	json_bool(&j, "alloc_free_speedup_2t", f->pass_speedup);
	json_bool(&j, "ewb_ratio", f->pass_ewb);
	json_bool(&j, "eldu_ratio", f->pass_eldu);
	json_bool(&j, "reclaim_ratio", f->pass_reclaim);
	json_bool(&j, "steals_per_1k_allocs", f->pass_steals);
	json_bool(&j, "global_lock_per_1k_allocs", f->pass_global_lock);
	json_end_object(&j);
	json_end_object(&j);
	json_finish(&j);
}

/* One line of the table, without trailing blanks. */
static void row(const char *name, const char *value, const char *floor, const char *target,
		const char *result)
{
	char line[160];
	int n;

	n = snprintf(line, sizeof(line), "  %-27s %-17s %-24s %-11s %s", name, value, floor,
		     target, result);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';
	puts(line);
}

static void epc_print_human(const struct epc_bench *b, const struct epc_figures *f)
{
	uint64_t n = b->pb.pages;
	char v[40], fl[40];

	printf("bench epc: the SGX core against this machine's floors, best of %u rounds%s\n",
	       b->rounds, b->quick ? " (--quick: sizes too small to mean much)" : "");
	row("", "emulator", "floor / comparison", "target", "");

	printf("allocation: EPC page alloc+free pairs, %llu per thread\n",
	       (unsigned long long)b->iterations);
	snprintf(v, sizeof(v), "%.1f ns/pair", f->ns1);
	snprintf(fl, sizeof(fl), "mutex list %.1f ns", f->mutex1);
	row("page cache, 1 thread", v, fl, "<= 50 ns", verdict(f->pass_alloc));
	snprintf(v, sizeof(v), "%.1f ns/pair", f->ns2);
	snprintf(fl, sizeof(fl), "mutex list %.1f ns", f->mutex2);
	row("page cache, 2 threads", v, fl, "", "");
	snprintf(v, sizeof(v), "%.2fx", f->speedup);
	snprintf(fl, sizeof(fl), "mutex list %.2fx", f->mutex_speedup);
	row("2 threads / 1 thread", v, fl, ">= 1.7x", verdict(f->pass_speedup));
	for (int i = 2; i < b->nr_alloc; i++) {
		char name[40];

		snprintf(name, sizeof(name), "page cache, %u threads", b->alloc[i].threads);
		snprintf(v, sizeof(v), "%.1f ns/pair", b->alloc[i].ns);
		snprintf(fl, sizeof(fl), "mutex list %.1f ns", b->alloc[i].mutex_ns);
		row(name, v, fl, "", "");
	}

	printf("paging: %llu pages of an initialized enclave; floor AES-128-GCM, 4 KiB + tag\n",
	       (unsigned long long)n);
	snprintf(v, sizeof(v), "%.0f pages/s", f->ewb);
	snprintf(fl, sizeof(fl), "ratio %.2f, %.2f us/page", f->ewb_ratio, 1e6 / f->ewb);
	row("EWB (EBLOCK+ETRACK+EWB)", v, fl, ">= 0.5", verdict(f->pass_ewb));
	snprintf(v, sizeof(v), "%.0f pages/s", f->ewb_leaf);
	snprintf(fl, sizeof(fl), "ratio %.2f", f->ewb_leaf_ratio);
	row("  EWB leaf alone", v, fl, "", "");
	snprintf(v, sizeof(v), "%.0f pages/s", f->eldu);
	snprintf(fl, sizeof(fl), "ratio %.2f, %.2f us/page", f->eldu_ratio, 1e6 / f->eldu);
	row("ELDU", v, fl, ">= 0.5", verdict(f->pass_eldu));
	snprintf(v, sizeof(v), "%.0f pages/s", f->aes);
	snprintf(fl, sizeof(fl), "%.2f us/page", 1e6 / f->aes);
	row("floor: AES-GCM encrypt", v, fl, "", "");
	snprintf(v, sizeof(v), "%.0f pages/s", f->aes_dec);
	snprintf(fl, sizeof(fl), "%.2f us/page", 1e6 / f->aes_dec);
	row("floor: AES-GCM decrypt", v, fl, "", "");
	snprintf(v, sizeof(v), "%.0f pages/s", f->sha);
	snprintf(fl, sizeof(fl), "%.2f us/page", 1e6 / f->sha);
	row("floor: SHA-256 of a page", v, fl, "", "");

	printf("reclaim: one owner streams through %llu pages on an EPC of %llu, passes: %u\n",
	       (unsigned long long)b->reclaim_pages, (unsigned long long)b->reclaim_frames,
	       b->reclaim_passes);
	snprintf(v, sizeof(v), "%.0f pages/s", b->reclaim_pps);
	snprintf(fl, sizeof(fl), "SGX hw ~%.0fK/s (%.0f us)", 1e3 / HW_SWAP_US, HW_SWAP_US);
	row("pages written back", v, fl, "", "");
	snprintf(v, sizeof(v), "%.3f", f->reclaim_ratio);
	snprintf(fl, sizeof(fl), "AES-GCM %.0f pages/s", f->aes);
	row("reclaim_ratio", v, fl, ">= 0.3", verdict(f->pass_reclaim));
	snprintf(v, sizeof(v), "%.0f pages/s", f->load_floor);
	snprintf(fl, sizeof(fl), "ratio %.2f, host %.2f us", f->load_floor_ratio, b->load_host_us);
	row("  floor: owner's loads", v, fl, "", "");
	snprintf(v, sizeof(v), "%.2f", f->steals_1k);
	snprintf(fl, sizeof(fl), "of %llu allocations", (unsigned long long)b->reclaim_allocs);
	row("steals per 1k allocations", v, fl, "<= 1", verdict(f->pass_steals));
	snprintf(v, sizeof(v), "%.2f", f->global_lock_1k);
	row("global locks per 1k allocs", v, "the registry lock", "<= 1",
	    verdict(f->pass_global_lock));
	snprintf(v, sizeof(v), "%.2f", f->wake_lock_1k);
	snprintf(fl, sizeof(fl), "direct reclaims %.2f", f->direct_1k);
	row("  wake-ups per 1k allocs", v, fl, "", "");
	if (b->view_err) {
		printf("views: not measured: no userfaultfd here (%s)\n", strerror(-b->view_err));
	} else {
		printf("views: a page zapped (MADV_DONTNEED) then touched, handler thread on the\n"
		       "toucher's CPU, then on another CPU (cross); best batch\n");
		snprintf(v, sizeof(v), "%.2f us", b->view.minor_fault_us);
		snprintf(fl, sizeof(fl), "bare uffd %.2f us", b->view.uffd_floor_us);
		row("minor fault (aging probe)", v, fl, "", "");
		snprintf(v, sizeof(v), "%.2f us", b->view.eldu_fault_us);
		snprintf(fl, sizeof(fl), "SGX hw ~%.0f us/swap", HW_SWAP_US);
		row("written-back page (ELDU)", v, fl, "", "");
		if (b->view.uffd_floor_cross_us > 0) {
			snprintf(v, sizeof(v), "%.2f us", b->view.minor_fault_cross_us);
			snprintf(fl, sizeof(fl), "bare uffd %.2f us", b->view.uffd_floor_cross_us);
			row("minor fault, cross", v, fl, "", "");
			snprintf(v, sizeof(v), "%.2f us", b->view.eldu_fault_cross_us);
			row("written-back page, cross", v, "", "", "");
		}
		snprintf(v, sizeof(v), "%.2f us", b->view.zap_us);
		row("  MADV_DONTNEED alone", v, "", "", "");
	}
	printf("ratio = emulator pages/s / AES-GCM pages/s (EWB and reclaim: encrypt, ELDU:\n"
	       "decrypt);\n"
	       "speedup = pairs/s at 2 threads over pairs/s at 1 (the mutex list's for\n"
	       "comparison).\n");
}

/* --- The command --------------------------------------------------------------- */

static int epc_options(struct epc_bench *b, int argc, char **argv)
{
	uint64_t threads = 0, iterations = 0, pages = 0, v;
	int c;

	struct tool_getopt g = { .cmd = "bench", .opts = epc_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case OPT_THREADS:
			if (parse_u64(optarg, ALLOC_MAX_THREADS, &v) || !v)
				return tool_usage("bench", "--threads: '%s' is not in 1..%d", optarg,
						  ALLOC_MAX_THREADS);
			threads = v;
			break;
		case OPT_ITER:
			if (parse_u64(optarg, ALLOC_MAX_ITERATIONS, &v) || !v)
				return tool_usage("bench", "--iterations: '%s' is not in 1..%llu",
						  optarg, ALLOC_MAX_ITERATIONS);
			iterations = v;
			break;
		case OPT_PAGES:
			if (parse_u64(optarg, PAGING_MAX_PAGES, &v) || v < PAGING_MIN_PAGES)
				return tool_usage("bench", "--pages: '%s' is not in %d..%u", optarg,
						  PAGING_MIN_PAGES, PAGING_MAX_PAGES);
			pages = v;
			break;
		case OPT_QUICK:
			b->quick = true;
			break;
		case OPT_JSON:
			b->json = true;
			break;
		case 'h':
			tool_help(&bench_epc_doc);
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("bench", "unexpected argument '%s'", argv[optind]);

	b->rounds = EPC_ROUNDS;
	b->iterations = iterations ? iterations
				   : b->quick ? ALLOC_QUICK_ITERATIONS : ALLOC_ITERATIONS;
	b->pb.pages = pages ? pages : b->quick ? PAGING_QUICK_PAGES : PAGING_PAGES;
	b->reclaim_epc_bytes = b->quick ? RECLAIM_QUICK_EPC_BYTES : RECLAIM_EPC_BYTES;
	b->reclaim_passes = b->quick ? 1 : RECLAIM_PASSES;
	b->alloc[0] = (struct alloc_run){ .threads = 1, .ns = INFINITY, .mutex_ns = INFINITY };
	b->alloc[1] = (struct alloc_run){ .threads = 2, .ns = INFINITY, .mutex_ns = INFINITY };
	b->nr_alloc = 2;
	if (threads > 2)
		b->alloc[b->nr_alloc++] = (struct alloc_run){ .threads = (unsigned int)threads,
							      .ns = INFINITY,
							      .mutex_ns = INFINITY };
	b->best = (struct paging_times){ INFINITY, INFINITY, INFINITY, INFINITY,
					 INFINITY, INFINITY, INFINITY, INFINITY };
	return 0;
}

static int epc_setup(struct epc_bench *b)
{
	int ret = paging_setup(&b->pb);

	if (ret > 0)
		return tool_fail("bench", "building the paging enclave: %s failed on page %llu: %s",
				 b->pb.leaf, (unsigned long long)b->pb.leaf_page,
				 sgx_error_name(b->pb.leaf_ret));
	if (ret)
		return tool_fail("bench", "cannot set up the paging enclave of %llu pages: %s",
				 (unsigned long long)b->pb.pages, strerror(-ret));
	ret = build_machine(0, b->reclaim_epc_bytes, SGX_LC_WRITABLE, &b->reclaim_cpu);
	if (ret)
		return tool_fail("bench", "cannot create a machine: %s", strerror(-ret));
	b->reclaim_frames = sgx_cpu_nr_frames(b->reclaim_cpu);
	b->reclaim_pages = RECLAIM_OVERCOMMIT * b->reclaim_frames;
	return 0;
}

int bench_epc(int argc, char **argv)
{
	struct epc_bench *b;
	struct epc_figures f;
	uint64_t bad;
	int ret, tret;

	b = calloc(1, sizeof(*b));
	if (!b)
		return tool_fail("bench", "out of memory");
	ret = epc_options(b, argc, argv);
	if (ret) {
		ret = ret < 0 ? EXIT_OK : ret;
		goto out;
	}
	ret = epc_setup(b);
	for (unsigned int r = 0; r < b->rounds && !ret; r++) {
		ret = alloc_round(b);
		if (!ret)
			ret = paging_round(b);
		if (!ret)
			ret = reclaim_round(b);
		if (!ret)
			ret = view_round(b, r);
	}
	if (!ret) {
		bad = paging_verify(&b->pb);
		if (bad)
			ret = tool_fail("bench", "%llu pages differ after EWB and ELDU",
					(unsigned long long)bad);
	}
	tret = paging_teardown(&b->pb);
	if (!ret && tret)
		ret = tool_fail("bench", "EPC pages left valid after the paging benchmark");
	if (b->reclaim_cpu)
		sgx_cpu_destroy(b->reclaim_cpu);
	if (!ret) {
		epc_figures(b, &f);
		if (b->json)
			epc_print_json(b, &f);
		else
			epc_print_human(b, &f);
	}
out:
	free(b);
	return ret;
}
