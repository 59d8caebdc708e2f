/*
 * cmd_bench.c: `sgxemu bench`: benchmarks of the emulator, each printed
 * with the machine's floor for the same work, measured in the same run.
 *
 * bench build: builds and initializes enclaves of 64 MiB and 1 GiB (one TCS,
 * every other page a measured REG page) and times ECREATE..EINIT.  The
 * floor is SHA-256 (OpenSSL EVP, one pass, only the hashing timed) over
 * exactly the bytes the measurement hashes: the ECREATE record, then per page the 64-byte EADD
 * record and 16 times the 64-byte EEXTEND record and 256 bytes of the page.
 * The hash of that stream is MRENCLAVE, so the floor doubles as a check.
 *
 * bench epc (bench_epc.c): the SGX core's allocation, paging and reclaim
 * rates against their floors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bench/bench.h"
#include "tools/bench.h"
#include "tools/build.h"
#include "tools/json.h"
#include "tools/tools.h"

#define MAX_SIZES 4
#define MAX_SIZE_MB 4096
/* Distinct generated page contents, cycled through the enclave. */
#define POOL_PAGES 64
#define TARGET_RATIO 0.8
/* Warm builds and floor passes per size; the fastest of each counts. */
#define BENCH_ROUNDS 2

enum { OPT_JSON = 256, OPT_SIZE, OPT_ITERATIONS, OPT_QUICK };

/* The sizes built unless --size-mb says otherwise, in MiB. */
#define BENCH_SIZE_MB_SMALL 64
#define BENCH_SIZE_MB_LARGE 1024

static const struct tool_opt build_opts[] = {
	{ .name = "size-mb", .val = OPT_SIZE, .arg = "N",
	  .doc = "Build an enclave of N MiB, a power of two in 1.." TOOL_STR(MAX_SIZE_MB)
		 "; may be given up to " TOOL_STR(MAX_SIZES) " times, each adding a size "
		 "in place of the defaults.",
	  .def_kind = TOOL_DEF_TEXT,
	  .def_text = TOOL_STR(BENCH_SIZE_MB_SMALL) " and " TOOL_STR(BENCH_SIZE_MB_LARGE)
		      " (two enclaves)." },
	TOOL_JSON_OPTION(OPT_JSON, "{benchmark, pages_per_s, sha256_pages_per_s, ratio, "
				   "cold_pages_per_s, sizes: [...]}"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc bench_build_doc = {
	.name = "bench build",
	.summary = "the build rate (ECREATE..EINIT) beside SHA-256 over the same bytes",
	.synopsis = "sgxemu bench build [--json] [--size-mb N]...",
	.description =
		"Builds and initializes enclaves (one TCS, every other page a measured "
		"REG page) on an emulated machine whose EPC holds them, and times "
		"ECREATE..EINIT.  In the same run it times the floor: SHA-256 (OpenSSL "
		"EVP, one pass) over exactly the byte stream the measurement hashes "
		"(the EADD record and 16 x (EEXTEND record + 256 bytes) per page), "
		"whose hash is MRENCLAVE, so the floor doubles as a check.  ratio = "
		"pages_per_s / sha256_pages_per_s; the target is >= " TOOL_STR(TARGET_RATIO)
		".\n"
		"\n"
		"Each size is built on one machine first cold (the host faults in and "
		"zeroes every EPC frame on first touch), then " TOOL_STR(BENCH_ROUNDS)
		" times warm (frames already backed, as hardware EPC always is) "
		"interleaved with as many floor passes; the best of each counts.  The "
		"headline pages_per_s is the warm build, cold_pages_per_s the first.\n"
		"\n"
		"Options may come before the benchmark's name (sgxemu bench --json build).",
	.opts = build_opts,
	.exit_ok = "Every build initialized and matched the floor's MRENCLAVE.",
	.exit_fail = "A build failed.",
	.examples = " sgxemu bench build\n sgxemu bench build --size-mb 64 --json",
};

/*
 * bench ecall: the ECALL round trip through the runtime's enter function
 * beside the bare ENCLU trap of this host (src/bench/bench_ecall.c).
 */
#define ECALL_ITERATIONS 20000
#define ECALL_MAX_ITERATIONS 100000000

static const struct tool_opt ecall_opts[] = {
	{ .name = "iterations", .val = OPT_ITERATIONS, .arg = "N",
	  .doc = "Round trips of each (the ECALL and the bare trap), 1..10^8.",
	  .def_kind = TOOL_DEF_DEC, .def = ECALL_ITERATIONS },
	TOOL_JSON_OPTION(OPT_JSON, "{benchmark, iterations, ecall_p50_us, ecall_p99_us, "
				   "trap_p50_us, trap_p99_us, ecall_ratio}"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc bench_ecall_doc = {
	.name = "bench ecall",
	.summary = "the ECALL round trip through the runtime beside the bare ENCLU trap",
	.synopsis = "sgxemu bench ecall [--json] [--iterations N]",
	.description =
		"Enters the sample enclave (op ADD) through the runtime's enter "
		"function, EENTER to EEXIT, and times each round trip; in the same run, "
		"interleaved, the bare trap this host raises for ENCLU (SIGILL or "
		"SIGSEGV, a handler that steps over it).  ecall_ratio = ecall_p50_us / "
		"trap_p50_us; the target is <= 1.5.",
	.opts = ecall_opts,
	.exit_ok = "Every round trip ran.",
	.exit_fail = "The enclave could not be built or entered.",
	.examples = " sgxemu bench ecall\n sgxemu bench ecall --json --iterations 100000",
};

static int bench_ecall(int argc, char **argv)
{
	struct tool_getopt g = { .cmd = "bench", .opts = ecall_opts };
	struct sgx_bench_ecall r;
	uint64_t iterations = ECALL_ITERATIONS;
	bool json = false;
	EVP_PKEY *key = NULL;
	int c, ret;

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_ITERATIONS:
			if (parse_u64(optarg, ECALL_MAX_ITERATIONS, &iterations) || iterations == 0)
				return tool_usage("bench", "--iterations: a count from 1, not '%s'",
						  optarg);
			break;
		case 'h':
			tool_help(&bench_ecall_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("bench", "unexpected argument '%s'", argv[optind]);
	if (demo_key_load(&key))
		return tool_fail("bench", "cannot load the demo key");
	ret = sgx_bench_ecall(SGXEMU_SAMPLE_ENCLAVE, key, iterations, &r);
	EVP_PKEY_free(key);
	if (ret)
		return tool_fail("bench", "ecall: %s", strerror(-ret));
	if (json) {
		printf("{\"benchmark\": \"ecall\", \"iterations\": %llu, \"ecall_p50_us\": %.3f, "
		       "\"ecall_p99_us\": %.3f, \"trap_p50_us\": %.3f, \"trap_p99_us\": %.3f, "
		       "\"ecall_ratio\": %.3f}\n",
		       (unsigned long long)r.iterations, r.ecall_p50_us, r.ecall_p99_us,
		       r.trap_p50_us, r.trap_p99_us, r.ecall_ratio);
	} else {
		printf("ECALL round trip (EENTER..EEXIT): p50 %.2f us, p99 %.2f us\n",
		       r.ecall_p50_us, r.ecall_p99_us);
		printf("bare ENCLU trap (the floor):      p50 %.2f us, p99 %.2f us\n",
		       r.trap_p50_us, r.trap_p99_us);
		printf("ecall_ratio %.2f (target <= 1.5), %llu round trips of each\n",
		       r.ecall_ratio, (unsigned long long)r.iterations);
	}
	return EXIT_OK;
}

/*
 * bench run: the three figures of the machine's costs in one run, each
 * beside its floor: the ECALL round trip beside the bare ENCLU trap, a
 * touch of a written-back page beside a bare userfaultfd fault and one
 * AES-GCM page, ADD_PAGES through a machine beside the core's own rate.
 */
#define RUN_ITERATIONS 20000
#define RUN_QUICK_ITERATIONS 2000
#define RUN_ADD_MB 256
#define RUN_QUICK_ADD_MB 16
#define RUN_ADD_ROUNDS 2
#define RUN_ECALL_TARGET 1.5
#define RUN_FAULT_TARGET 1.5
#define RUN_ADD_TARGET 0.8

static const struct tool_opt run_opts[] = {
	{ .name = "quick", .val = OPT_QUICK,
	  .doc = "A short run for CI: " TOOL_STR(RUN_QUICK_ITERATIONS) " round trips and "
		 "faults instead of " TOOL_STR(RUN_ITERATIONS) ", ADD_PAGES of "
		 TOOL_STR(RUN_QUICK_ADD_MB) " MiB instead of " TOOL_STR(RUN_ADD_MB) " MiB, one "
		 "timed build of each instead of " TOOL_STR(RUN_ADD_ROUNDS) "." },
	TOOL_JSON_OPTION(OPT_JSON, "{benchmark, quick, ecall_path, iterations, ecall_p50_us, "
				   "ecall_p99_us, trap_p50_us, trap_p99_us, trap_signal, "
				   "ecall_ratio, fault_measurable, fault_p50_us, fault_p99_us, "
				   "fault_floor_p50_us, fault_floor_p99_us, uffd_p50_us, "
				   "aes_gcm_page_p50_us, fault_ratio, add_pages_bytes, "
				   "add_pages_per_s, core_add_pages_per_s, add_ratio, targets}; "
				   "a figure that could not be measured is null"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc bench_run_doc = {
	.name = "bench run",
	.summary = "ECALL, fault and ADD_PAGES costs of the machine, each beside its floor",
	.synopsis = "sgxemu bench run [--json] [--quick]",
	.description =
		"Measures in one run, each beside the floor of the same work on this "
		"host:\n"
		"\n"
		"The ECALL round trip (EENTER to EEXIT of the sample enclave, op ADD) "
		"beside the bare trap this host raises for ENCLU (SIGILL for #UD or "
		"SIGSEGV for #GP, whichever it is here), interleaved in rounds of 500; "
		"ecall_ratio = ecall_p50_us / trap_p50_us, target <= "
		TOOL_STR(RUN_ECALL_TARGET) ".  The enclave runs on a core in a process of "
		"the command's own (ecall_path says so): a client of a machine cannot "
		"enter enclaves yet.\n"
		"\n"
		"A touch of a written-back page in a client's mapping beside its floor: "
		"a bare userfaultfd minor fault on a shared memfd mapping served by a "
		"handler thread that only maps the page, plus one AES-128-GCM "
		"encryption of a page; fault_ratio = fault_p50_us / fault_floor_p50_us, "
		"target <= " TOOL_STR(RUN_FAULT_TARGET) ".  A client of a machine has no "
		"fault path yet: the floor is printed, the fault and its ratio are "
		"null.\n"
		"\n"
		"ADD_PAGES of " TOOL_STR(RUN_ADD_MB) " MiB of measured pages through a "
		"private machine (sgxemu machine, with an EPC that holds them) beside "
		"sgx_encl_add_page() on a core of the same EPC in this process, taking "
		"turns, " TOOL_STR(RUN_ADD_ROUNDS) " timed builds of each after a first, "
		"untimed one that backs the machine's EPC; the best of each counts.  "
		"add_ratio = add_pages_per_s / core_add_pages_per_s, target >= "
		TOOL_STR(RUN_ADD_TARGET) ".",
	.opts = run_opts,
	.exit_ok = "Every part ran (the targets are reported, not enforced).",
	.exit_fail = "The enclave could not be built or entered, the floor could not be "
		     "measured, or a build through the machine failed or left pages behind.",
	.examples = " sgxemu bench run\n sgxemu bench run --quick --json",
};

/* The ECALL part, in a child process: its runtime serves the child's own
 * core, and the parent's may then attach to the machine's processor. */
static int run_ecall(uint64_t iterations, struct sgx_bench_ecall *r)
{
	EVP_PKEY *key = NULL;
	int p[2], status, ret;
	pid_t pid;

	if (pipe(p))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(p[0]);
		close(p[1]);
		return ret;
	}
	if (pid == 0) {
		close(p[0]);
		ret = demo_key_load(&key) ? -EINVAL
					  : sgx_bench_ecall(SGXEMU_SAMPLE_ENCLAVE, key, iterations, r);
		EVP_PKEY_free(key);
		if (write(p[1], &ret, sizeof(ret)) != sizeof(ret) ||
		    (!ret && write(p[1], r, sizeof(*r)) != sizeof(*r)))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &ret, sizeof(ret)) != sizeof(ret))
		ret = -EIO;
	else if (!ret && read(p[0], r, sizeof(*r)) != sizeof(*r))
		ret = -EIO;
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return ret;
}

static void json_or_null(struct json *j, const char *key, bool have, double v)
{
	if (have)
		json_double(j, key, v);
	else
		json_null(j, key);
}

static int bench_run(int argc, char **argv)
{
	struct tool_getopt g = { .cmd = "bench", .opts = run_opts };
	struct sgx_bench_ecall ec;
	struct sgx_bench_fault_floor ff;
	struct sgx_bench_add_pages ap;
	uint64_t iterations = RUN_ITERATIONS, add_mb = RUN_ADD_MB;
	unsigned int rounds = RUN_ADD_ROUNDS;
	bool json = false, quick = false, have_floor;
	const char *trap_name;
	char self[4096];
	ssize_t n;
	int c, ret, signo, floor_err;

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_QUICK:
			quick = true;
			iterations = RUN_QUICK_ITERATIONS;
			add_mb = RUN_QUICK_ADD_MB;
			rounds = 1;
			break;
		case 'h':
			tool_help(&bench_run_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("bench", "unexpected argument '%s'", argv[optind]);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return tool_fail("bench", "cannot find the sgxemu binary: %s", strerror(errno));
	self[n] = 0;

	signo = sgx_bench_enclu_signal();
	trap_name = signo == SIGILL ? "SIGILL (#UD)" : signo == SIGSEGV ? "SIGSEGV (#GP)" : "none";
	ret = run_ecall(iterations, &ec);
	if (ret)
		return tool_fail("bench", "run: ecall: %s", strerror(-ret));
	floor_err = sgx_bench_fault_floor(iterations, &ff);
	have_floor = floor_err == 0;
	if (floor_err && floor_err != -EPERM && floor_err != -EOPNOTSUPP)
		return tool_fail("bench", "run: the fault floor: %s", strerror(-floor_err));
	ret = sgx_bench_add_pages(self, add_mb << 20, rounds, &ap);
	if (ret == -EUCLEAN)
		return tool_fail("bench", "run: ADD_PAGES through the machine left pages, "
				 "paged, or the machine did not exit cleanly");
	if (ret)
		return tool_fail("bench", "run: ADD_PAGES through the machine: %s", strerror(-ret));

	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "benchmark", "run");
		json_bool(&j, "quick", quick);
		json_string(&j, "ecall_path", "in-process core");
		json_u64(&j, "iterations", ec.iterations);
		json_double(&j, "ecall_p50_us", ec.ecall_p50_us);
		json_double(&j, "ecall_p99_us", ec.ecall_p99_us);
		json_double(&j, "trap_p50_us", ec.trap_p50_us);
		json_double(&j, "trap_p99_us", ec.trap_p99_us);
		json_string(&j, "trap_signal", trap_name);
		json_double(&j, "ecall_ratio", ec.ecall_ratio);
		json_bool(&j, "fault_measurable", false);
		json_null(&j, "fault_p50_us");
		json_null(&j, "fault_p99_us");
		json_or_null(&j, "fault_floor_p50_us", have_floor, ff.floor_p50_us);
		json_or_null(&j, "fault_floor_p99_us", have_floor, ff.floor_p99_us);
		json_or_null(&j, "uffd_p50_us", have_floor, ff.uffd_p50_us);
		json_or_null(&j, "aes_gcm_page_p50_us", have_floor, ff.aes_gcm_p50_us);
		json_null(&j, "fault_ratio");
		json_u64(&j, "add_pages_bytes", ap.size);
		json_double(&j, "add_pages_per_s", ap.machine_pages_per_s);
		json_double(&j, "core_add_pages_per_s", ap.core_pages_per_s);
		json_double(&j, "add_ratio", ap.ratio);
		json_begin_object(&j, "targets");
		json_double(&j, "ecall_ratio_max", RUN_ECALL_TARGET);
		json_double(&j, "fault_ratio_max", RUN_FAULT_TARGET);
		json_double(&j, "add_ratio_min", RUN_ADD_TARGET);
		json_end_object(&j);
		json_end_object(&j);
		json_finish(&j);
		return EXIT_OK;
	}
	printf("bench run%s: the machine's costs beside their floors, in one run\n",
	       quick ? " --quick" : "");
	printf("ECALL round trip (EENTER..EEXIT), through an in-process core (a client of the\n"
	       "machine cannot enter enclaves yet): p50 %.3f us, p99 %.3f us\n",
	       ec.ecall_p50_us, ec.ecall_p99_us);
	printf("  bare ENCLU trap, %s: p50 %.3f us, p99 %.3f us\n", trap_name, ec.trap_p50_us,
	       ec.trap_p99_us);
	printf("  ecall_ratio %.3f (target <= %.1f), %llu round trips of each\n", ec.ecall_ratio,
	       RUN_ECALL_TARGET, (unsigned long long)ec.iterations);
	printf("touch of a written-back page: not measurable yet (a client of the machine has no\n"
	       "fault path); fault_ratio: none\n");
	if (have_floor)
		printf("  its floor, userfaultfd minor fault + AES-128-GCM page: p50 %.3f us, "
		       "p99 %.3f us\n  (fault alone p50 %.3f us, AES-GCM page alone p50 %.3f us; "
		       "%llu samples)\n",
		       ff.floor_p50_us, ff.floor_p99_us, ff.uffd_p50_us, ff.aes_gcm_p50_us,
		       (unsigned long long)ff.iterations);
	else
		printf("  its floor: not measurable here (%s)\n", strerror(-floor_err));
	printf("ADD_PAGES of %llu MiB (measured pages): through the machine %.0f pages/s, the "
	       "core's own %.0f pages/s\n",
	       (unsigned long long)(ap.size >> 20), ap.machine_pages_per_s, ap.core_pages_per_s);
	printf("  add_ratio %.3f (target >= %.1f)\n", ap.ratio, RUN_ADD_TARGET);
	return EXIT_OK;
}

/* `sgxemu bench --help`: every benchmark's page. */
static void bench_usage(void)
{
	tool_help(&bench_build_doc);
	fputs("\n", stdout);
	tool_help(&bench_epc_doc);
	fputs("\n", stdout);
	tool_help(&bench_ecall_doc);
	fputs("\n", stdout);
	tool_help(&bench_run_doc);
}

struct bench_size {
	uint64_t size;
	uint64_t pages;
	double build_s; /* warm EPC: the headline figure */
	double cold_s; /* first build on a fresh machine */
	double sha_s;
	double copy_s; /* EADD's copy alone: each page into fresh memory */
};

/* A generated enclave of size bytes: page 0 a TCS, then measured RW REG
 * pages whose contents cycle through a pool of POOL_PAGES pages. */
static int bench_layout(uint64_t size, struct sgx_layout *l)
{
	struct sgx_tcs *tcs;
	uint8_t *pool;
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ size;

	memset(l, 0, sizeof(*l));
	l->size = size;
	l->ssa_frame_size = 1;
	l->attributes = SGX_ATTR_MODE64BIT;
	l->xfrm = SGX_XFRM_LEGACY;
	l->nr_pages = size / SGX_PAGE_SIZE;
	l->pages = calloc(l->nr_pages, sizeof(*l->pages));
	pool = aligned_alloc(SGX_PAGE_SIZE, (POOL_PAGES + 1) * SGX_PAGE_SIZE);
	if (!l->pages || !pool) {
		free(l->pages);
		free(pool);
		return -ENOMEM;
	}
	l->storage = pool;
	l->storage_size = (POOL_PAGES + 1) * SGX_PAGE_SIZE;
	for (size_t i = 0; i < POOL_PAGES * SGX_PAGE_SIZE / 8; i++) {
		rng ^= rng >> 12;
		rng ^= rng << 25;
		rng ^= rng >> 27;
		((uint64_t *)(pool + SGX_PAGE_SIZE))[i] = rng * 0x2545F4914F6CDD1DULL;
	}
	/* The TCS: one SSA frame in page 1, entry at page 2, segment limits
	 * of one page. */
	tcs = (struct sgx_tcs *)pool;
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = 2 * SGX_PAGE_SIZE;
	tcs->fs_limit = 0xfff;
	tcs->gs_limit = 0xfff;
	l->pages[0].offset = 0;
	l->pages[0].secinfo_flags = SGX_SECINFO_TCS;
	l->pages[0].measure = true;
	l->pages[0].data = pool;
	for (size_t i = 1; i < l->nr_pages; i++) {
		l->pages[i].offset = i * SGX_PAGE_SIZE;
		l->pages[i].secinfo_flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
		l->pages[i].measure = true;
		l->pages[i].data = pool + (1 + i % POOL_PAGES) * SGX_PAGE_SIZE;
	}
	return 0;
}

/* Pages of the measured stream laid out at once for the floor: small
 * enough that the batch stays in cache, as the page EEXTEND hashes does
 * right after EADD copied it. */
#define FLOOR_BATCH 16
#define STREAM_PER_PAGE (64 + 16 * (64 + SGX_EEXTEND_CHUNK))

/* Lays out the measured byte stream of pages [first, first + n) in s. */
static void bench_stream(const struct sgx_layout *l, size_t first, size_t n, uint8_t *s)
{
	size_t pos = 0;

	for (size_t i = first; i < first + n; i++) {
		const struct sgx_layout_page *pg = &l->pages[i];
		struct sgx_meas_eadd eadd = { 0 };

		eadd.tag = SGX_MEAS_TAG_EADD;
		eadd.offset = pg->offset;
		eadd.secinfo_flags = pg->secinfo_flags;
		memcpy(s + pos, &eadd, 64);
		pos += 64;
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK) {
			struct sgx_meas_eextend ext = { 0 };

			ext.tag = SGX_MEAS_TAG_EEXTEND;
			ext.offset = pg->offset + c;
			memcpy(s + pos, &ext, 64);
			memcpy(s + pos + 64, pg->data + c, SGX_EEXTEND_CHUNK);
			pos += 64 + SGX_EEXTEND_CHUNK;
		}
	}
}

/*
 * The floor: one SHA-256 pass (EVP) over the ECREATE record and the
 * measured stream of every page.  The stream is laid out FLOOR_BATCH pages
 * at a time and only the hashing is timed, so the figure is SHA-256's own
 * rate over those bytes.  Checks the digest is MRENCLAVE.  0, -ENOMEM,
 * -EIO, or -EPROTO if the digest differs (a measurement bug).
 */
static int bench_floor(const struct sgx_layout *l, const uint8_t mrenclave[32], double *secs)
{
	struct sgx_meas_ecreate ecreate = { 0 };
	uint8_t *s = malloc(FLOOR_BATCH * STREAM_PER_PAGE);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int dlen = 32;
	uint8_t digest[32];
	double t0, total = 0;
	int ret = -EIO;

	if (!s || !ctx) {
		ret = -ENOMEM;
		goto out;
	}
	ecreate.tag = SGX_MEAS_TAG_ECREATE;
	ecreate.ssa_frame_size = l->ssa_frame_size;
	ecreate.size = l->size;
	t0 = bench_now();
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, &ecreate, sizeof(ecreate)))
		goto out;
	total += bench_now() - t0;
	for (size_t i = 0; i < l->nr_pages; i += FLOOR_BATCH) {
		size_t n = l->nr_pages - i < FLOOR_BATCH ? l->nr_pages - i : FLOOR_BATCH;

		bench_stream(l, i, n, s);
		t0 = bench_now();
		if (!EVP_DigestUpdate(ctx, s, n * STREAM_PER_PAGE))
			goto out;
		total += bench_now() - t0;
	}
	t0 = bench_now();
	if (!EVP_DigestFinal_ex(ctx, digest, &dlen))
		goto out;
	total += bench_now() - t0;
	*secs = total;
	ret = memcmp(digest, mrenclave, 32) ? -EPROTO : 0;
out:
	EVP_MD_CTX_free(ctx);
	free(s);
	return ret;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * The second floor, for context: the copy EADD must make of every page
 * into EPC memory, here memcpy into a fresh, backed region as large as the
 * enclave (so, as in a build, every destination line misses the cache).
 * SHA-256 plus this copy is the least any build of the image can cost.
 * 0 or -ENOMEM.
 */
static int bench_copy_floor(const struct sgx_layout *l, double *secs)
{
	size_t len = l->nr_pages * SGX_PAGE_SIZE;
	static const uint8_t zero[SGX_PAGE_SIZE];
	uint8_t *dst;
	double t0;

	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return -ENOMEM;
	madvise(dst, len, MADV_HUGEPAGE);
	madvise(dst, len, MADV_POPULATE_WRITE);
	t0 = bench_now();
	for (size_t i = 0; i < l->nr_pages; i++) {
		const uint8_t *src = l->pages[i].data ? l->pages[i].data : zero;

		memcpy(dst + i * SGX_PAGE_SIZE, src, SGX_PAGE_SIZE);
	}
	*secs = bench_now() - t0;
	munmap(dst, len);
	return 0;
}

/* Builds and initializes l on cpu, timing ECREATE..EINIT, then takes it
 * down and checks no EPC page is left.  0 or an exit code. */
static int bench_timed_build(struct sgx_cpu *cpu, const struct sgx_layout *l,
			     const struct sgx_sigstruct *ss, double *secs)
{
	struct build_enclave encl;
	struct build_status st;
	double t0;
	int ret, rm;

	t0 = bench_now();
	ret = build_enclave(cpu, l, ss, 0, &encl, &st);
	*secs = bench_now() - t0;
	if (ret < 0)
		ret = tool_fail("bench", "cannot build: %s", strerror(-ret));
	else if (ret)
		ret = tool_fail("bench", "%s failed: %s at offset %#llx", st.leaf,
				sgx_error_name(st.ret), (unsigned long long)st.offset);
	rm = build_remove(&encl);
	if (rm && !ret)
		ret = tool_fail("bench", "EREMOVE failed: %s", sgx_error_name(rm));
	if (sgx_cpu_nr_valid(cpu) && !ret)
		ret = tool_fail("bench", "%llu EPC pages left valid",
				(unsigned long long)sgx_cpu_nr_valid(cpu));
	return ret;
}

/* One size: layout, MRENCLAVE, SIGSTRUCT, floor, then two timed builds. */
static int bench_one(EVP_PKEY *key, struct bench_size *b)
{
	struct sgx_sign_params p;
	struct sgx_sigstruct ss;
	struct sgx_layout l;
	struct sgx_cpu *cpu;
	uint8_t mrenclave[32];
	int ret;

	tool_sign_defaults(&p);
	ret = bench_layout(b->size, &l);
	if (ret)
		return tool_fail("bench", "cannot make a %llu-byte layout: %s",
				 (unsigned long long)b->size, strerror(-ret));
	b->pages = l.nr_pages;
	ret = sgx_layout_measure(&l, mrenclave);
	if (!ret)
		ret = sgx_sigstruct_sign(key, &p, mrenclave, &ss);
	if (ret) {
		ret = tool_fail("bench", "cannot sign the generated enclave: %s", strerror(-ret));
		goto out_layout;
	}
	ret = build_machine(build_frames_needed(&l), 0, SGX_LC_WRITABLE, &cpu);
	if (ret) {
		ret = tool_fail("bench", "cannot create a machine for %llu pages: %s",
				(unsigned long long)build_frames_needed(&l), strerror(-ret));
		goto out_layout;
	}
	/* Hardware EPC is backed from power-on: so is this machine's. */
	ret = sgx_cpu_prefault(cpu);
	if (ret) {
		ret = tool_fail("bench", "cannot back %llu EPC pages: %s",
				(unsigned long long)build_frames_needed(&l), strerror(-ret));
		sgx_cpu_destroy(cpu);
		goto out_layout;
	}
	/* Cold: the host backs each EPC frame on first touch.  Then warm
	 * builds on the same, backed frames (as hardware EPC always is),
	 * interleaved with the floor; the best of BENCH_ROUNDS of each is
	 * kept, so a neighbour's burst on a shared machine skews neither. */
	ret = bench_timed_build(cpu, &l, &ss, &b->cold_s);
	b->build_s = b->sha_s = b->copy_s = INFINITY;
	for (int r = 0; r < BENCH_ROUNDS && !ret; r++) {
		double t;

		ret = bench_floor(&l, mrenclave, &t);
		if (ret == -EPROTO) {
			ret = tool_fail("bench", "SHA-256 of the measured stream is not MRENCLAVE");
			break;
		} else if (ret) {
			ret = tool_fail("bench", "SHA-256 floor failed: %s", strerror(-ret));
			break;
		}
		b->sha_s = fmin(b->sha_s, t);
		if (bench_copy_floor(&l, &t)) {
			ret = tool_fail("bench", "cannot map %zu pages for the copy floor", l.nr_pages);
			break;
		}
		b->copy_s = fmin(b->copy_s, t);
		ret = bench_timed_build(cpu, &l, &ss, &t);
		b->build_s = fmin(b->build_s, t);
	}
	sgx_cpu_destroy(cpu);
out_layout:
	sgx_layout_free(&l);
	return ret;
}

static void size_name(uint64_t size, char *out, size_t outlen)
{
	if (size >= (1ULL << 30) && !(size & ((1ULL << 30) - 1)))
		snprintf(out, outlen, "%llu GiB", (unsigned long long)(size >> 30));
	else
		snprintf(out, outlen, "%llu MiB", (unsigned long long)(size >> 20));
}

static void bench_print(bool json, const struct bench_size *b, int n)
{
	double pages = 0, build = 0, cold = 0, sha = 0, copy = 0;
	char name[32];

	for (int i = 0; i < n; i++) {
		pages += b[i].pages;
		build += b[i].build_s;
		cold += b[i].cold_s;
		sha += b[i].sha_s;
		copy += b[i].copy_s;
	}
	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "benchmark", "build");
		json_double(&j, "pages_per_s", pages / build);
		json_double(&j, "sha256_pages_per_s", pages / sha);
		json_double(&j, "ratio", sha / build);
		json_double(&j, "target_ratio", TARGET_RATIO);
		json_double(&j, "cold_pages_per_s", pages / cold);
		json_double(&j, "cold_ratio", sha / cold);
		json_double(&j, "copy_pages_per_s", pages / copy);
		json_double(&j, "sha256_copy_pages_per_s", pages / (sha + copy));
		json_double(&j, "ratio_sha256_copy", (sha + copy) / build);
		json_begin_array(&j, "sizes");
		for (int i = 0; i < n; i++) {
			json_begin_object(&j, NULL);
			json_u64(&j, "size", b[i].size);
			json_u64(&j, "pages", b[i].pages);
			json_double(&j, "build_seconds", b[i].build_s);
			json_double(&j, "pages_per_s", b[i].pages / b[i].build_s);
			json_double(&j, "sha256_seconds", b[i].sha_s);
			json_double(&j, "sha256_pages_per_s", b[i].pages / b[i].sha_s);
			json_double(&j, "ratio", b[i].sha_s / b[i].build_s);
			json_double(&j, "cold_build_seconds", b[i].cold_s);
			json_double(&j, "cold_pages_per_s", b[i].pages / b[i].cold_s);
			json_double(&j, "cold_ratio", b[i].sha_s / b[i].cold_s);
			json_double(&j, "copy_pages_per_s", b[i].pages / b[i].copy_s);
			json_double(&j, "ratio_sha256_copy",
				    (b[i].sha_s + b[i].copy_s) / b[i].build_s);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	printf("bench build: ECREATE..EINIT vs SHA-256 of the measured byte stream\n");
	printf("%-8s %8s %10s %10s %6s %10s %6s %10s %6s\n", "size", "pages", "sha256/s",
	       "build/s", "ratio", "cold/s", "ratio", "+copy/s", "ratio");
	for (int i = 0; i < n; i++) {
		size_name(b[i].size, name, sizeof(name));
		printf("%-8s %8llu %10.0f %10.0f %6.2f %10.0f %6.2f %10.0f %6.2f\n", name,
		       (unsigned long long)b[i].pages, b[i].pages / b[i].sha_s,
		       b[i].pages / b[i].build_s, b[i].sha_s / b[i].build_s,
		       b[i].pages / b[i].cold_s, b[i].sha_s / b[i].cold_s,
		       b[i].pages / (b[i].sha_s + b[i].copy_s),
		       (b[i].sha_s + b[i].copy_s) / b[i].build_s);
	}
	printf("%-8s %8.0f %10.0f %10.0f %6.2f %10.0f %6.2f %10.0f %6.2f\n", "total", pages,
	       pages / sha, pages / build, sha / build, pages / cold, sha / cold,
	       pages / (sha + copy), (sha + copy) / build);
	printf("pages per second.  ratio = build/s / sha256/s (target >= %.1f); build: the\n"
	       "best warm build; cold: the first build on a new, backed machine.  +copy: the\n"
	       "floor with EADD's page copy into uncached memory added (memcpy alone:\n"
	       "%.0f pages/s), the least any build must do.\n",
	       TARGET_RATIO, pages / copy);
}

static int bench_build(int argc, char **argv)
{
	struct bench_size b[MAX_SIZES] = { { .size = (uint64_t)BENCH_SIZE_MB_SMALL << 20 },
					   { .size = (uint64_t)BENCH_SIZE_MB_LARGE << 20 } };
	int n = 2, custom = 0, c, ret;
	bool json = false;
	EVP_PKEY *key;
	uint64_t v;

	/* Each --size-mb adds a size. */
	static const int repeatable[] = { OPT_SIZE, 0 };
	struct tool_getopt g = { .cmd = "bench", .opts = build_opts,
				 .repeatable = repeatable };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case OPT_SIZE:
			if (parse_u64(optarg, MAX_SIZE_MB, &v) || !v || (v & (v - 1)))
				return tool_usage("bench", "--size-mb: '%s' is not a power of two in 1..%d",
						  optarg, MAX_SIZE_MB);
			if (custom == MAX_SIZES)
				return tool_usage("bench", "at most %d sizes", MAX_SIZES);
			b[custom++] = (struct bench_size){ .size = v << 20 };
			n = custom;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			tool_help(&bench_build_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("bench", "unexpected argument '%s'", argv[optind]);
	ret = demo_key_load(&key);
	if (ret)
		return tool_fail("bench", "cannot load the demo key");
	for (int i = 0; i < n; i++) {
		ret = bench_one(key, &b[i]);
		if (ret)
			break;
	}
	EVP_PKEY_free(key);
	if (ret)
		return ret;
	bench_print(json, b, n);
	return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
	/* Options may come before the benchmark's name (bench --json build):
	 * the first argument that names one moves to the front, the options
	 * keep their order. */
	for (int i = 1; i < argc && argv[1][0] == '-'; i++) {
		char *name = argv[i];

		if (!strcmp(name, "--"))
			break;
		if (strcmp(name, "build") && strcmp(name, "epc") && strcmp(name, "ecall") &&
		    strcmp(name, "run"))
			continue;
		memmove(argv + 2, argv + 1, (i - 1) * sizeof(*argv));
		argv[1] = name;
		break;
	}
	if (argc < 2)
		return tool_usage("bench", "which benchmark? (build, epc, ecall, run)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		bench_usage();
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "build"))
		return bench_build(argc - 1, argv + 1);
	if (!strcmp(argv[1], "epc"))
		return bench_epc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ecall"))
		return bench_ecall(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return bench_run(argc - 1, argv + 1);
	return tool_usage("bench", "unknown benchmark '%s' (build, epc, ecall, run)", argv[1]);
}
