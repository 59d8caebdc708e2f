/*
 * main.c: the sgxemu command: subcommand dispatch, top-level usage, and the
 * helpers the subcommands share (tools.h).  This directory is the only
 * place in the project that prints to people or exits.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tools/json.h"
#include "tools/tools.h"

/* Bounds on what the image options may ask for: the ELF loader refuses an
 * image and heap beyond 4 GiB anyway. */
#define MAX_HEAP_PAGES (1ULL << 20)
#define MAX_SSA_FRAME_SIZE 1024

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "keygen", cmd_keygen, "make an enclave signing key (RSA-3072, e = 3)" },
	{ "measure", cmd_measure, "print an image's MRENCLAVE" },
	{ "sign", cmd_sign, "sign an image: write its SIGSTRUCT" },
	{ "show", cmd_show, "print a SIGSTRUCT's fields and check it, or an image's pages" },
	{ "sgxs", cmd_sgxs, "write an image's SGXS measurement stream" },
	{ "check", cmd_check, "build an image on an emulated machine and EINIT it" },
	{ "bench", cmd_bench, "benchmarks (bench build, bench epc, bench ecall, bench run)" },
	{ "stat", cmd_stat, "the SGX core's statistics under an overcommitting workload" },
	{ "demo", cmd_demo, "the sample's identity, then paging on a small EPC" },
	{ "machine", cmd_machine, "run an emulated machine that serves client programs" },
};

const char *tool_command_summary(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].summary;
	return NULL;
}

#ifndef SGXEMU_VERSION
#define SGXEMU_VERSION "0.1.0"
#endif

bool tool_json_requested;
/* The first message a command printed, for the JSON form of its error. */
static char first_error[512];

static void usage(FILE *f)
{
	fputs("usage: sgxemu COMMAND [OPTIONS] [ARGS]\n"
	      "\n"
	      "The Linux SGX subsystem over an emulated SGX processor.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Every command takes --json (print one JSON object, an error included)\n"
	      "and --help (or: sgxemu help COMMAND); sgxemu --version prints the\n"
	      "version.\n"
	      "Exit status: 0 success, 1 a check failed, 2 usage error, bad input or\n"
	      "output that cannot be written.\n",
	      f);
}

/* A command's exit code, made EXIT_USAGE when what it printed could not be
 * written (a full disk, a closed pipe): a result nobody got is not a
 * success. */
static int output_checked(const char *cmd, int ret)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return ret;
	fprintf(stderr, "sgxemu %s: cannot write the output: %s\n", cmd, strerror(errno));
	return ret ? ret : EXIT_USAGE;
}

/* A failed command asked for JSON that printed none gets its error as
 * one JSON object on stdout (the message stays on stderr too). */
static void json_error(const char *cmd, int ret)
{
	struct json j;

	if (!tool_json_requested || !ret || json_printed)
		return;
	json_init(&j, stdout);
	json_begin_object(&j, NULL);
	json_string(&j, "command", cmd);
	json_string(&j, "error", first_error[0] ? first_error : "failed");
	json_u64(&j, "exit_status", ret);
	json_end_object(&j);
	json_finish(&j);
}

int main(int argc, char **argv)
{
	char *help_argv[5];
	int ret;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* "sgxemu help COMMAND [SUBCOMMAND]" is "sgxemu COMMAND [SUBCOMMAND]
	 * --help", as git and ip spell it. */
	if (!strcmp(argv[1], "help") && argc >= 3 && argc <= 4) {
		help_argv[0] = argv[0];
		help_argv[1] = argv[2];
		help_argv[2] = argc == 4 ? argv[3] : (char *)"--help";
		help_argv[3] = argc == 4 ? (char *)"--help" : NULL;
		help_argv[4] = NULL;
		argc = argc == 4 ? 4 : 3;
		argv = help_argv;
	} else if (!strcmp(argv[1], "help") && argc > 4) {
		fprintf(stderr, "sgxemu help: surplus argument '%s' (sgxemu help COMMAND [SUBCOMMAND])\n",
			argv[4]);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("sgxemu %s\n", SGXEMU_VERSION);
		return output_checked("--version", EXIT_OK);
	}
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			tool_json_requested = true;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		ret = commands[i].fn(argc - 1, argv + 1);
		json_error(commands[i].name, ret);
		return output_checked(commands[i].name, ret);
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "sgxemu: unknown option '%s' (a command comes first: sgxemu --help)\n",
			argv[1]);
		return EXIT_USAGE;
	}
	fprintf(stderr, "sgxemu: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

static void tool_vmsg(const char *cmd, const char *fmt, va_list ap)
{
	va_list copy;

	if (!first_error[0]) {
		va_copy(copy, ap);
		vsnprintf(first_error, sizeof(first_error), fmt, copy);
		va_end(copy);
	}
	fprintf(stderr, "sgxemu %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Whether short option c takes a value in optstring s. */
static bool short_has_arg(const char *s, int c)
{
	const char *p = c > 0 && c < 256 ? strchr(s, c) : NULL;

	return p && p[1] == ':';
}

const char *tool_optname(const struct tool_getopt *g, int c)
{
	static char buf[64];

	if (g->index >= 0) {
		snprintf(buf, sizeof(buf), "--%s", g->longopts[g->index].name);
		return buf;
	}
	for (const struct option *o = g->longopts; o && o->name; o++)
		if (o->val == c) {
			snprintf(buf, sizeof(buf), "--%s", o->name);
			return buf;
		}
	snprintf(buf, sizeof(buf), "-%c", c);
	return buf;
}

/* argv's spelling of an option up to any "=value", for messages. */
static const char *spelled(const char *arg)
{
	static char buf[128];
	size_t n = strcspn(arg, "=");

	snprintf(buf, sizeof(buf), "%.*s", (int)(n < 100 ? n : 100), arg);
	return buf;
}

/* getopt_long()'s tables made from a command's tool_opt table, entry
 * for entry, so that g->index names the same option in both. */
static void build_tables(struct tool_getopt *g)
{
	size_t n = 0, s = 0;

	for (const struct tool_opt *o = g->opts; o->name; o++, n++) {
		/* A table past the room here is the program's error. */
		if (n + 1 >= sizeof(g->built_long) / sizeof(g->built_long[0]) ||
		    s + 3 >= sizeof(g->built_short)) {
			fprintf(stderr, "sgxemu %s: option table too long\n", g->cmd);
			abort();
		}
		g->built_long[n] = (struct option){ o->name,
						    o->arg ? required_argument : no_argument,
						    NULL, o->val };
		if (o->short_name) {
			g->built_short[s++] = (char)o->short_name;
			if (o->arg)
				g->built_short[s++] = ':';
		}
	}
	g->built_long[n] = (struct option){ 0 };
	g->built_short[s] = '\0';
	g->longopts = g->built_long;
	g->shortopts = g->built_short;
}

/* The argument that spelled the long option getopt_long() just took:
 * argv[optind - 1], or argv[optind - 2] when its value came as the next
 * argument ("--key K" rather than "--key=K"). */
static const char *long_spelling(char **argv, bool has_arg)
{
	if (has_arg && optind >= 2 && !strchr(argv[optind - 1], '=') &&
	    !strncmp(argv[optind - 2], "--", 2))
		return argv[optind - 2];
	return argv[optind - 1];
}

int tool_getopt(struct tool_getopt *g, int argc, char **argv)
{
	char optstring[64];
	bool has_arg;
	int c;

	if (!g->started) {
		optind = 1;
		g->started = true;
		if (g->opts)
			build_tables(g);
	}
	opterr = 0;
	snprintf(optstring, sizeof(optstring), ":%s", g->shortopts ? g->shortopts : "");
	g->index = -1;
	c = getopt_long(argc, argv, optstring, g->longopts, &g->index);
	if (c == -1)
		return -1;
	if (c == '?') {
		const char *arg = argv[optind - 1];

		if (optopt && !strncmp(arg, "--", 2))
			tool_error(g->cmd, "option '%s' takes no value", spelled(arg));
		else if (optopt)
			tool_error(g->cmd, "unknown option '-%c'", optopt);
		else
			tool_error(g->cmd, "unknown option '%s'", spelled(arg));
		return '?';
	}
	if (c == ':') {
		tool_error(g->cmd, "option '%s' needs a value", tool_optname(g, optopt));
		return '?';
	}
	has_arg = g->index >= 0 ? g->longopts[g->index].has_arg == required_argument :
		  short_has_arg(optstring, c);
	/* getopt_long() also takes an unambiguous prefix ("--sig" for
	 * "--signature"): a signing tool should not guess, and --help lists
	 * the names in full. */
	if (g->index >= 0) {
		const char *arg = spelled(long_spelling(argv, has_arg));

		if (strcmp(arg + 2, g->longopts[g->index].name)) {
			tool_error(g->cmd, "unknown option '%s' (names are not abbreviated: '%s'?)",
				   arg, tool_optname(g, c));
			return '?';
		}
	}
	if (!has_arg)
		return c;
	for (const int *r = g->repeatable; r && *r; r++)
		if (*r == c)
			return c;
	for (int i = 0; i < g->nr_seen; i++)
		if (g->seen[i] == c) {
			tool_error(g->cmd, "option '%s' given twice (once is allowed)",
				   tool_optname(g, c));
			return '?';
		}
	if (g->nr_seen < (int)(sizeof(g->seen) / sizeof(g->seen[0])))
		g->seen[g->nr_seen++] = c;
	return c;
}

int tool_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_vmsg(cmd, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int tool_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_vmsg(cmd, fmt, ap);
	va_end(ap);
	return EXIT_CHECK_FAILED;
}

int tool_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_vmsg(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'sgxemu %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull() would skip leading white space and take a sign. */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static unsigned int days_in_month(unsigned int y, unsigned int m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int parse_date_bcd(const char *s, uint32_t *out)
{
	unsigned int y, m, d;
	uint32_t bcd = 0;

	if (strlen(s) != 8)
		return -EINVAL;
	for (int i = 0; i < 8; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		bcd = bcd << 4 | (uint32_t)(s[i] - '0');
	}
	if (sscanf(s, "%4u%2u%2u", &y, &m, &d) != 3 || y < 1 || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, m))
		return -EINVAL;
	*out = bcd;
	return 0;
}

uint32_t today_bcd(void)
{
	time_t now = time(NULL);
	struct tm tm;
	char buf[16];
	uint32_t bcd = 0;

	gmtime_r(&now, &tm);
	if (strftime(buf, sizeof(buf), "%Y%m%d", &tm) == 0)
		return 0;
	if (parse_date_bcd(buf, &bcd))
		return 0;
	return bcd;
}

int tool_path_error(const char *cmd, const char *path, const char *msg)
{
	/* Library messages often start with the path already. */
	if (!strncmp(msg, path, strlen(path)))
		return tool_error(cmd, "%s", msg);
	return tool_error(cmd, "%s: %s", path, msg);
}

bool tool_is_stream(const char *path)
{
	return !strcmp(path, "-") || !strncmp(path, "/dev/fd/", 8) || !strcmp(path, "/dev/stdin") ||
	       !strncmp(path, "/proc/self/fd/", 14);
}

/* Reads all of fd, at most max bytes (else -EFBIG after max + 1). */
static int read_fd(int fd, size_t max, uint8_t **bufp, size_t *lenp)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap), *nbuf;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return n;
		}
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

int tool_read_input(const char *cmd, const char *path, size_t max, uint8_t **buf, size_t *len)
{
	char err[256] = "";
	int fd, ret;

	if (!tool_is_stream(path)) {
		ret = sgx_read_file(path, max, buf, len, err, sizeof(err));
		if (ret == -EFBIG)
			return -EFBIG;
		if (ret)
			return -tool_path_error(cmd, path, err[0] ? err : strerror(-ret));
		return 0;
	}
	/* A pipe or terminal: read to its end (blocking: a pipe has no size
	 * to refuse up front), within the same bound as a file. */
	if (!strcmp(path, "-")) {
		fd = 0;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -tool_error(cmd, "%s: %s", path, strerror(errno));
	}
	ret = read_fd(fd, max, buf, len);
	if (fd != 0)
		close(fd);
	if (ret == -EFBIG)
		return -EFBIG;
	if (ret)
		return -tool_error(cmd, "%s: %s", path, strerror(-ret));
	return 0;
}

int tool_read_sigstruct(const char *cmd, const char *path, struct sgx_sigstruct *ss)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	/* Read more than a SIGSTRUCT so a longer file is seen as such. */
	ret = tool_read_input(cmd, path, 1 << 20, &buf, &len);
	if (ret == -EFBIG)
		return tool_error(cmd, "%s: not a SIGSTRUCT (larger than 1 MiB; a SIGSTRUCT is %zu bytes)",
				  path, sizeof(*ss));
	if (ret)
		return -ret;
	if (len != sizeof(*ss)) {
		free(buf);
		return tool_error(cmd, "%s: not a SIGSTRUCT: %zu bytes, a SIGSTRUCT is %zu",
				  path, len, sizeof(*ss));
	}
	memcpy(ss, buf, sizeof(*ss));
	free(buf);
	return 0;
}

void tool_sign_defaults(struct sgx_sign_params *p)
{
	memset(p, 0, sizeof(*p));
	p->attributes = TOOL_SIGN_ATTRIBUTES;
	p->xfrm = TOOL_SIGN_XFRM;
	p->attributes_mask = TOOL_SIGN_ATTRIBUTES_MASK;
	p->xfrm_mask = TOOL_SIGN_XFRM;
	p->misc_mask = TOOL_SIGN_MISC_MASK;
	p->date = today_bcd();
}

void tool_image_defaults(struct tool_image *im)
{
	memset(im, 0, sizeof(*im));
	im->max_memory = TOOL_MAX_MEMORY;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	unsigned int shift = 0;
	const char *u;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (unsigned int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (v == 0 || v > UINT64_MAX >> shift)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Bytes as MiB, rounded up: a figure never smaller than the truth. */
static unsigned long long mib_up(uint64_t bytes)
{
	return (bytes >> 20) + ((bytes & ((1ULL << 20) - 1)) != 0);
}

int tool_memory_check(const char *cmd, const char *path, const struct tool_image *im,
		      uint64_t need, const char *what)
{
	if (need <= im->max_memory)
		return 0;
	return tool_error(cmd, "%s: needs %llu MiB of host memory (%s), more than the limit of %llu MiB; --max-memory SIZE raises it",
			  path, mib_up(need), what, mib_up(im->max_memory));
}

uint64_t layout_host_bytes(const struct sgx_layout *layout)
{
	return layout->storage_size + layout->nr_pages * sizeof(*layout->pages);
}

int tool_image_option(const char *cmd, int c, const char *arg, struct tool_image *im)
{
	uint64_t v;

	switch (c) {
	case TOOL_OPT_HEAP:
		if (parse_u64(arg, MAX_HEAP_PAGES, &v))
			return -tool_usage(cmd, "--heap: '%s' is not a page count in 0..%llu", arg,
					   MAX_HEAP_PAGES);
		im->eo.heap_pages = v;
		im->heap_set = true;
		return 1;
	case TOOL_OPT_SSA:
		if (parse_u64(arg, MAX_SSA_FRAME_SIZE, &v) || v == 0)
			return -tool_usage(cmd, "--ssa-frame-size: '%s' is not in 1..%d", arg,
					   MAX_SSA_FRAME_SIZE);
		im->eo.ssa_frame_size = v;
		im->ssa_set = true;
		return 1;
	case TOOL_OPT_MAX_MEMORY:
		if (parse_size(arg, &v))
			return -tool_usage(cmd, "--max-memory: '%s' is not a size (bytes, or with K, M, G or T)",
					   arg);
		im->max_memory = v;
		return 1;
	}
	return 0;
}

/* What path's first bytes say it is, as sgx_load_image() tells them apart:
 * 1 an ELF, 2 an SGXS stream, 0 neither (or unreadable). */
static int image_kind(const char *path)
{
	unsigned char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	uint64_t tag;
	int kind = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 8) == 8) {
		memcpy(&tag, magic, 8);
		if (!memcmp(magic, "\x7f" "ELF", 4))
			kind = 1;
		else if (tag == SGX_MEAS_TAG_ECREATE)
			kind = 2;
	}
	close(fd);
	return kind;
}

static bool is_elf(const char *path)
{
	return image_kind(path) == 1;
}

bool tool_is_image(const char *path)
{
	return image_kind(path) != 0;
}

/* An image from a pipe: read to memory within half the memory limit (the
 * bytes and the pages copied from them) and 1 GiB, then the loader its
 * content calls for, as sgx_load_image() chooses.  0, after a
 * message (EXIT_USAGE), or a loader's -errno with err. */
static int load_stream(const char *cmd, const char *path, const struct tool_image *im,
		       struct sgx_layout *layout, char *err, size_t errlen)
{
	size_t max = im->max_memory / 2 < (1ULL << 30) ? im->max_memory / 2 : (1ULL << 30);
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t tag = 0;
	int ret;

	memset(layout, 0, sizeof(*layout));
	ret = tool_read_input(cmd, path, max, &buf, &len);
	if (ret == -EFBIG)
		return tool_error(cmd, "%s: more than %zu MiB from the stream: more than half the limit of %llu MiB of host memory (or 1 GiB); --max-memory SIZE raises it",
				   path, max >> 20, mib_up(im->max_memory));
	if (ret)
		return EXIT_USAGE;
	if (len >= 8)
		memcpy(&tag, buf, 8);
	if (len >= 4 && !memcmp(buf, "\x7f" "ELF", 4))
		ret = sgx_load_elf(buf, len, &im->eo, layout, err, errlen);
	else if (tag == SGX_MEAS_TAG_ECREATE)
		ret = sgx_load_sgxs(buf, len, layout, err, errlen);
	else
		ret = tool_error(cmd, "%s: not an ELF enclave or SGXS stream", path);
	if (ret == 0 && (im->heap_set || im->ssa_set) && tag == SGX_MEAS_TAG_ECREATE) {
		sgx_layout_free(layout);
		ret = tool_usage(cmd, "%s applies to ELF images; %s is an SGXS stream, whose pages and SSA frame size are its own",
				  im->heap_set ? "--heap" : "--ssa-frame-size", path);
	}
	free(buf);
	return ret;
}

int tool_load_image(const char *cmd, const char *path, const struct tool_image *im,
		    struct sgx_layout *layout)
{
	char err[256] = "", what[96];
	struct stat st;
	int ret;

	/* Reading holds the file's bytes and the pages copied from them at
	 * once: refused before the read when that passes the limit. */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(what, sizeof(what), "the file's %llu MiB read and copied into pages",
			 mib_up(st.st_size));
		ret = tool_memory_check(cmd, path, im, 2 * (uint64_t)st.st_size, what);
		if (ret)
			return ret;
	}
	if (tool_is_stream(path))
		ret = load_stream(cmd, path, im, layout, err, sizeof(err));
	else
		ret = sgx_load_image(path, &im->eo, layout, err, sizeof(err));
	if (ret > 0)
		return ret;
	if (ret)
		return tool_path_error(cmd, path, err[0] ? err :
				       ret == -EINVAL ? "malformed image" : strerror(-ret));
	if ((im->heap_set || im->ssa_set) && !tool_is_stream(path) && !is_elf(path)) {
		sgx_layout_free(layout);
		return tool_usage(cmd, "%s applies to ELF images; %s is an SGXS stream, whose pages and SSA frame size are its own",
				  im->heap_set ? "--heap" : "--ssa-frame-size", path);
	}
	snprintf(what, sizeof(what), "the image's %zu pages", layout->nr_pages);
	ret = tool_memory_check(cmd, path, im, layout_host_bytes(layout), what);
	if (ret) {
		sgx_layout_free(layout);
		return ret;
	}
	ret = sgx_layout_validate(layout, err, sizeof(err));
	if (ret) {
		sgx_layout_free(layout);
		return tool_error(cmd, "%s: %s", path, err[0] ? err : "layout cannot be built");
	}
	return 0;
}

int tool_measure(const char *cmd, const struct sgx_layout *layout, uint8_t mrenclave[32])
{
	int ret = sgx_layout_measure(layout, mrenclave);

	if (ret)
		return tool_error(cmd, "cannot measure the image: %s", strerror(-ret));
	return 0;
}

size_t layout_measured_pages(const struct sgx_layout *layout)
{
	size_t n = 0;

	for (size_t i = 0; i < layout->nr_pages; i++)
		n += layout->pages[i].measure;
	return n;
}

void hex_string(const uint8_t *buf, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * len] = '\0';
}

void attributes_string(uint64_t attributes, char *out, size_t outlen)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ SGX_ATTR_INIT, "INIT" },
		{ SGX_ATTR_DEBUG, "DEBUG" },
		{ SGX_ATTR_MODE64BIT, "MODE64BIT" },
		{ SGX_ATTR_PROVISIONKEY, "PROVISIONKEY" },
		{ SGX_ATTR_EINITTOKENKEY, "EINITTOKENKEY" },
		{ SGX_ATTR_KSS, "KSS" },
		{ SGX_ATTR_AEXNOTIFY, "AEXNOTIFY" },
	};
	size_t pos = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(attributes & names[i].bit))
			continue;
		pos += snprintf(out + pos, pos < outlen ? outlen - pos : 0, "%s%s",
				pos ? "|" : "", names[i].name);
		attributes &= ~names[i].bit;
	}
	if (attributes)
		pos += snprintf(out + pos, pos < outlen ? outlen - pos : 0, "%s%#llx",
				pos ? "|" : "", (unsigned long long)attributes);
	if (!pos)
		snprintf(out, outlen, "none");
}

int parse_attributes(const char *s, uint64_t *out)
{
	static const struct {
		const char *name;
		uint64_t bit;
	} names[] = {
		{ "INIT", SGX_ATTR_INIT },
		{ "DEBUG", SGX_ATTR_DEBUG },
		{ "MODE64BIT", SGX_ATTR_MODE64BIT },
		{ "PROVISIONKEY", SGX_ATTR_PROVISIONKEY },
		{ "EINITTOKENKEY", SGX_ATTR_EINITTOKENKEY },
		{ "KSS", SGX_ATTR_KSS },
		{ "AEXNOTIFY", SGX_ATTR_AEXNOTIFY },
	};
	uint64_t v = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (isdigit((unsigned char)*s))
		return parse_u64(s, UINT64_MAX, out);
	/* NAME[,|NAME]...: the names attributes_string() prints. */
	while (*p) {
		size_t n = strcspn(p, ",|");
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncasecmp(p, names[i].name, n))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		v |= names[i].bit;
		p += n;
		if (*p && !*++p)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

int parse_hex_bytes(const char *s, uint8_t *out, size_t len)
{
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	if (strlen(s) != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned int hi, lo;

		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]))
			return -EINVAL;
		hi = isdigit((unsigned char)s[2 * i]) ? s[2 * i] - '0' : (tolower(s[2 * i]) - 'a' + 10);
		lo = isdigit((unsigned char)s[2 * i + 1]) ? s[2 * i + 1] - '0' :
			(tolower(s[2 * i + 1]) - 'a' + 10);
		out[i] = hi << 4 | lo;
	}
	return 0;
}

int parse_date_option(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!strcmp(s, "today")) {
		*out = today_bcd();
		return 0;
	}
	if (strlen(s) == 8 && isdigit((unsigned char)s[0]) && s[1] != 'x' && s[1] != 'X')
		return parse_date_bcd(s, out);
	/* Anything else is the field's raw value: hex, or 0. */
	if ((!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2) || !strcmp(s, "0")) &&
	    !parse_u64(s, UINT32_MAX, &v)) {
		*out = v;
		return 0;
	}
	return -EINVAL;
}

int demo_key_load(EVP_PKEY **key)
{
	BIO *bio = BIO_new_mem_buf(demo_key_pem, -1);
	int ret = 0;

	if (!bio)
		return -ENOMEM;
	*key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!*key)
		ret = -EINVAL;
	BIO_free(bio);
	ERR_clear_error();
	return ret;
}
