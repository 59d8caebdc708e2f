/*
 * tools.h: what the sgxemu command's subcommands share: exit codes, the
 * subcommand entry points, and helpers that parse numbers, read files and
 * print messages in one style.
 *
 * Exit codes: 0 success; 1 a check failed (a signature does not verify,
 * EINIT refused, a benchmark's build failed); 2 usage error or bad input
 * (unknown option, malformed number, unreadable or malformed file, output
 * that cannot be written).  Every message names the subcommand and the
 * problem.
 */
#ifndef SGXEMU_TOOLS_H
#define SGXEMU_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>

#include "sgxemu/arch.h"
#include "sgxemu/sign.h"

#define EXIT_OK 0
#define EXIT_CHECK_FAILED 1
#define EXIT_USAGE 2

/* Subcommands: each takes the argv that starts at its own name. */
int cmd_keygen(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_sgxs(int argc, char **argv);
/* show of an image (cmd_image.c): its pages, or with summary their
 * ranges. */
struct tool_image;
int show_image(const char *path, const struct tool_image *im, bool summary, bool json);
/* Whether path's content is an ELF or an SGXS stream (not a SIGSTRUCT). */
bool tool_is_image(const char *path);
int cmd_check(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_machine(int argc, char **argv);
/* stat --machine PATH (stat_machine.c): reads a running machine once, or
 * every watch seconds until SIGINT/SIGTERM.  An exit status. */
int stat_machine_run(const char *path, bool json, uint64_t watch);

/* "sgxemu CMD: message" on stderr.  Returns EXIT_USAGE, or EXIT_CHECK_FAILED
 * for tool_fail(). */
int tool_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tool_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: the message, then a pointer to --help. */
int tool_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option parsing every command shares: getopt_long() with its messages
 * replaced by one line each ("sgxemu sign: unknown option '--bogus'",
 * "option '--key' needs a value", "option '--date' given twice").  An
 * option that takes a value may be given once unless its val is listed in
 * repeatable (0-terminated; NULL: none may repeat). */
struct tool_opt;
struct tool_getopt {
	const char *cmd;
	/* The options: a command's table of them (opts), from which the
	 * getopt tables below and its --help are both made, or the getopt
	 * tables themselves. */
	const struct tool_opt *opts;
	const char *shortopts;
	const struct option *longopts;
	const int *repeatable;
	int seen[64];
	int nr_seen;
	int index; /* longopts index of the last option, or -1 */
	bool started;
	struct option built_long[48];
	char built_short[48];
};
/* The next option's val, -1 at the end, or '?' after a message (the
 * command exits EXIT_USAGE).  Starts again at argv[1] when g is new. */
int tool_getopt(struct tool_getopt *g, int argc, char **argv);
/* "--name" of the option tool_getopt() last returned (for messages). */
const char *tool_optname(const struct tool_getopt *g, int c);

/* A macro's value as a string, for help text made from constants. */
#define TOOL_STR_(x) #x
#define TOOL_STR(x) TOOL_STR_(x)

/* One option of a command, as its parser takes it and its --help
 * describes it (help.c).  The default is printed from def by def_kind,
 * so that what --help says is the constant the code uses. */
enum tool_def_kind {
	TOOL_DEF_NONE,	/* a flag, or a value with no default (def_text says why) */
	TOOL_DEF_TEXT,	/* def_text alone */
	TOOL_DEF_DEC,	/* def in decimal, then def_text if any */
	TOOL_DEF_HEX,	/* def as 0x..., then def_text if any */
	TOOL_DEF_SIZE,	/* def as a size with K, M, G or T, then def_text */
};
struct tool_opt {
	const char *name;	/* the long name, without "--" */
	int short_name;		/* its one-letter form, or 0 */
	int val;		/* what tool_getopt() returns for it */
	const char *arg;	/* the value's name ("KEY.pem"); NULL: a flag */
	const char *doc;	/* what it does, in sentences */
	enum tool_def_kind def_kind;
	uint64_t def;
	const char *def_text;
};
/* Options every command has. */
#define TOOL_JSON_OPTION(v, what)                                                 \
	{ .name = "json", .val = (v),                                             \
	  .doc = "Print one JSON object on standard output: " what ".  An error " \
		 "is a JSON object too: {command, error, exit_status}." }
#define TOOL_HELP_OPTION \
	{ .name = "help", .short_name = 'h', .val = 'h', .doc = "Print this help and exit." }

/* A command's manual page: what --help prints (help.c). */
struct tool_doc {
	const char *name;		/* "sign", "bench epc" */
	const char *summary;		/* NULL: main's one line for the command */
	const char *synopsis;		/* usage lines, "\n" between them */
	const char *description;	/* paragraphs, "\n\n" between them; a line
					 * starting with a space is kept as it is */
	const struct tool_opt *opts;	/* ending with { 0 } */
	const char *exit_ok;		/* what exit status 0 means */
	const char *exit_fail;		/* what 1 means; NULL: never 1 */
	const char *examples;		/* commands, "\n" between them */
};
/* Prints d as a manual page on standard output: NAME, SYNOPSIS,
 * DESCRIPTION, OPTIONS (each with its value, meaning and default), EXIT
 * STATUS, EXAMPLES. */
void tool_help(const struct tool_doc *d);
/* main's one-line summary of a command, or NULL. */
const char *tool_command_summary(const char *name);

/* --json: set by main when the command line asks for it, so that an
 * error the command meets before (or instead of) its own JSON output is
 * printed as a JSON object ({"command", "error", "exit_status"}). */
extern bool tool_json_requested;

/* "sgxemu CMD: PATH: msg" (without repeating PATH when msg starts with
 * it); returns EXIT_USAGE. */
int tool_path_error(const char *cmd, const char *path, const char *msg);

/* Parses an unsigned integer (decimal, 0x hex, or 0 octal) that must be
 * <= max and consist of digits only: no sign, no white space.  0 or
 * -EINVAL. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);
/* YYYYMMDD as BCD 0xYYYYMMDD: a day of the Gregorian calendar, year 1 on. */
int parse_date_bcd(const char *s, uint32_t *out);
/* --date: "today", YYYYMMDD (as BCD), or the field's raw 32-bit value in
 * hex (0x...) or 0.  0 or -EINVAL. */
int parse_date_option(const char *s, uint32_t *out);
/* Attributes by number or by names joined with ',' or '|'
 * ("MODE64BIT,DEBUG"; case does not matter).  0 or -EINVAL. */
int parse_attributes(const char *s, uint64_t *out);
/* Exactly 2 * len hex digits (an optional 0x before) into len bytes, in
 * the order written: memory order, as show prints them.  0 or -EINVAL. */
int parse_hex_bytes(const char *s, uint8_t *out, size_t len);
/* Today's date (UTC) as BCD 0xYYYYMMDD. */
uint32_t today_bcd(void);

/* How a command writes one output file (output.c). */
struct tool_output {
	const char *cmd;		/* for messages */
	bool force;			/* --force: an existing regular file may be replaced */
	unsigned int mode;		/* permissions, less the umask */
	const char *const *inputs;	/* the command's input files: never written over */
	size_t nr_inputs;
};
/* Writes len bytes to path through a temporary file in path's directory
 * (created with O_EXCL, fsync()ed, renamed onto path; removed on any
 * failure).  Refused, with nothing written: a path that is not a regular
 * file (FIFO, directory, device: never opened), one that is the same
 * file (st_dev, st_ino) as an input, and an existing one without force.
 * 0, or EXIT_USAGE after a message. */
int tool_write_output(const struct tool_output *o, const char *path, const void *buf,
		      size_t len);
/* tool_write_output()'s refusals alone, for a command to make before its
 * work as well as at the write: 0, or EXIT_USAGE after a message. */
int tool_check_output(const struct tool_output *o, const char *path);

/* What the command signs unless told otherwise: a production 64-bit
 * enclave with x87 and SSE, every attribute and MISCSELECT bit compared,
 * the signed XFRM required, vendor 0, today's date.  The constants are
 * the ones sign's --help prints as its defaults. */
#define TOOL_SIGN_ATTRIBUTES SGX_ATTR_MODE64BIT
#define TOOL_SIGN_ATTRIBUTES_MASK UINT64_MAX
#define TOOL_SIGN_XFRM SGX_XFRM_LEGACY
#define TOOL_SIGN_MISC_MASK UINT32_MAX
void tool_sign_defaults(struct sgx_sign_params *p);

/* The image options measure, sign and check share: --heap N unmeasured
 * heap pages and --ssa-frame-size N (ELF layouts), and --max-memory SIZE,
 * the host memory a command may take for the image and what it builds
 * from it (default TOOL_MAX_MEMORY).  TOOL_IMAGE_OPTIONS goes into a
 * command's struct option table (getopt.h). */
#define TOOL_MAX_MEMORY (1ULL << 30)
struct tool_image {
	struct sgx_elf_options eo;
	uint64_t max_memory; /* bytes */
	bool heap_set, ssa_set; /* given on the command line */
};
/* No heap, one SSA page per frame, the default memory limit. */
void tool_image_defaults(struct tool_image *im);
enum { TOOL_OPT_HEAP = 0x1000, TOOL_OPT_SSA, TOOL_OPT_MAX_MEMORY };
/* An ELF's SSA frame size unless --ssa-frame-size says otherwise: what
 * the loader takes for sgx_elf_options.ssa_frame_size 0. */
#define TOOL_SSA_FRAME_PAGES 1
#define TOOL_HEAP_OPTION                                                        \
	{ .name = "heap", .val = TOOL_OPT_HEAP, .arg = "N",                     \
	  .doc = "ELF: N unmeasured heap pages after the image (RW, added but "   \
		 "not EEXTENDed; they change the enclave's size, so MRENCLAVE).", \
	  .def_kind = TOOL_DEF_DEC, .def = 0 }
#define TOOL_SSA_OPTION                                                        \
	{ .name = "ssa-frame-size", .val = TOOL_OPT_SSA, .arg = "N",           \
	  .doc = "ELF: pages per SSA frame, 1..1024 (SECS.SSAFRAMESIZE; "      \
		 "part of MRENCLAVE).",                                        \
	  .def_kind = TOOL_DEF_DEC, .def = TOOL_SSA_FRAME_PAGES }
#define TOOL_MAX_MEMORY_OPTION                                                   \
	{ .name = "max-memory", .val = TOOL_OPT_MAX_MEMORY, .arg = "SIZE",       \
	  .doc = "The host memory the command may take for the image (its bytes " \
		 "and the pages copied from them): bytes, or with K, M, G or T "  \
		 "(KiB...).  A larger input is refused before it is read, with "  \
		 "the figure; an image from a pipe may take half of it (and at "  \
		 "most 1 GiB).",                                                  \
	  .def_kind = TOOL_DEF_SIZE, .def = TOOL_MAX_MEMORY }
#define TOOL_IMAGE_OPTIONS TOOL_HEAP_OPTION, TOOL_SSA_OPTION, TOOL_MAX_MEMORY_OPTION
/* Takes getopt's answer c if it is an image option, with its value arg:
 * 1 if taken, 0 if c is another option, or -EXIT_USAGE (after a message)
 * when the value is bad. */
int tool_image_option(const char *cmd, int c, const char *arg, struct tool_image *im);
/* A size in bytes with an optional binary suffix (K, M, G, T; KiB...):
 * "512M", "1G", "4096".  0 or -EINVAL (not a size, 0, or past 2^64). */
int parse_size(const char *s, uint64_t *out);
/* Refuses (message, EXIT_USAGE) a build of path that needs more than
 * im->max_memory bytes of host memory: need in all, made of the parts
 * described in what ("EPC 64 MiB + image 1 MiB").  0 if it fits. */
int tool_memory_check(const char *cmd, const char *path, const struct tool_image *im,
		      uint64_t need, const char *what);
/* Host memory a loaded layout holds: its pages' storage and entries. */
uint64_t layout_host_bytes(const struct sgx_layout *layout);

/* Every rule of EINIT's SIGSTRUCT checks a SIGSTRUCT breaks, each as one
 * sentence naming the field, its bytes and the rule (sigproblems.c).  nr
 * is 0 exactly when sgx_sigstruct_check() accepts; structural > 0 exactly
 * when it answers SGX_INVALID_SIG_STRUCT. */
#define SIG_MAX_PROBLEMS 16
struct sig_problems {
	int nr;
	int structural;
	char text[SIG_MAX_PROBLEMS][192];
};
void sigstruct_problems(const struct sgx_sigstruct *ss, struct sig_problems *p);
/* Prints them on stderr, "sgxemu CMD: PATH: problem", and into the JSON
 * object j (when not NULL) as "problems": [...]. */
struct json;
void tool_print_problems(const char *cmd, const char *path, const struct sig_problems *p,
			 struct json *j);

/* Whether path names standard input or an inherited descriptor ("-",
 * /dev/stdin, /dev/fd/N, /proc/self/fd/N): read to its end into memory,
 * with the same bounds as a file. */
bool tool_is_stream(const char *path);
/* Reads a whole input, a regular file or such a stream, of at most max
 * bytes: 0, -EFBIG (no message), or -EXIT_USAGE after a message. */
int tool_read_input(const char *cmd, const char *path, size_t max, uint8_t **buf, size_t *len);

/* Reads a SIGSTRUCT file; a file that is not exactly 1808 bytes is bad
 * input.  Prints the problem and returns EXIT_USAGE, or 0. */
int tool_read_sigstruct(const char *cmd, const char *path, struct sgx_sigstruct *ss);
/* Loads an ELF or SGXS image and validates the layout, within
 * im->max_memory: a file whose reading would pass it is refused before it
 * is read.  Prints the problem and returns EXIT_USAGE, or 0. */
int tool_load_image(const char *cmd, const char *path, const struct tool_image *im,
		    struct sgx_layout *layout);
/* MRENCLAVE of a loaded layout; prints and returns EXIT_USAGE on failure. */
int tool_measure(const char *cmd, const struct sgx_layout *layout, uint8_t mrenclave[32]);

/* Measured pages of a layout. */
size_t layout_measured_pages(const struct sgx_layout *layout);

/* Lowercase hex of len bytes into out (2 * len + 1 bytes). */
void hex_string(const uint8_t *buf, size_t len, char *out);

/* "MODE64BIT|DEBUG" style names of attribute bits into out. */
void attributes_string(uint64_t attributes, char *out, size_t outlen);

/* The embedded demo signing key (RSA-3072, e = 3), PEM text. */
extern const char demo_key_pem[];
/* Loads it; 0 or -EINVAL/-ENOMEM. */
int demo_key_load(EVP_PKEY **key);

#endif /* SGXEMU_TOOLS_H */
