/*
 * cmd_machine.c: sgxemu machine: runs one emulated SGX machine as a
 * process of its own (src/machine/), serving the enclave device to client
 * programs on a unix socket until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "machine/machine.h"
#include "tools/tools.h"

#define MACHINE_MAX_EPC (64ULL << 30)
#define MACHINE_MAX_LIMIT_PCT 100000

enum { OPT_SOCKET = 256, OPT_EPC, OPT_SECTIONS, OPT_LIMIT, OPT_LC, OPT_SEED, OPT_MODE,
       OPT_READY_FD };

static const struct tool_opt machine_opts[] = {
	{ .name = "socket", .val = OPT_SOCKET, .arg = "PATH",
	  .doc = "The unix socket to listen on.  A PATH that exists is refused "
		 "unless it is a stale socket (one no machine listens on); the "
		 "machine removes only the socket it made.",
	  .def_text = "required." },
	{ .name = "epc", .val = OPT_EPC, .arg = "SIZE",
	  .doc = "The EPC's size: bytes, or with K, M or G; a multiple of 4 KiB up "
		 "to 64 GiB, at least a page per section.",
	  .def_kind = TOOL_DEF_SIZE /* def: from sgx_machine_config_default() */ },
	{ .name = "sections", .val = OPT_SECTIONS, .arg = "N",
	  .doc = "EPC sections, one NUMA node each, 1.." TOOL_STR(SGX_MAX_EPC_SECTIONS)
		 "; the pages are shared out equally, the remainder to the last.",
	  .def_kind = TOOL_DEF_DEC },
	{ .name = "backing-limit", .val = OPT_LIMIT, .arg = "PCT",
	  .doc = "The pages the core may hold written back, in percent of the EPC, "
		 "0.." TOOL_STR(MACHINE_MAX_LIMIT_PCT) " (0: none may be).",
	  .def_kind = TOOL_DEF_TEXT,
	  .def_text = "the core's default (SGX_BACKING_LIMIT_DEFAULT: 150 percent of the EPC)." },
	{ .name = "lc", .val = OPT_LC, .arg = "MODE",
	  .doc = "Launch control: writable (the OS writes IA32_SGXLEPUBKEYHASH, so "
		 "any signer's enclave initializes) or locked (locked to Intel's key: "
		 "other signers need a launch token).",
	  .def_kind = TOOL_DEF_TEXT /* def_text: from sgx_machine_config_default() */ },
	{ .name = "seed", .val = OPT_SEED, .arg = "N",
	  .doc = "Derive the processor's fused keys from N, so that sealing keys "
		 "and reports repeat from run to run.",
	  .def_text = "random keys, different each run." },
	{ .name = "mode", .val = OPT_MODE, .arg = "MODE",
	  .doc = "The socket's permissions in octal, 1..0777: who may connect, as "
		 "a device node's mode decides who may open it.",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "0666 less the umask." },
	{ .name = "ready-fd", .val = OPT_READY_FD, .arg = "N",
	  .doc = "Write one byte to descriptor N once the socket listens (for "
		 "scripts and tests that start a machine and wait for it).",
	  .def_text = "nothing is written." },
	{ .name = "json", .val = 'j',
	  .doc = "Taken as every command takes it: the machine prints nothing when "
		 "it stops cleanly, and an error is printed as a JSON object, "
		 "{command, error, exit_status}." },
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc machine_doc = {
	.name = "machine",
	.synopsis = "sgxemu machine --socket PATH [--epc SIZE] [--sections N]\n"
		    "               [--backing-limit PCT] [--lc writable|locked] [--seed N]\n"
		    "               [--mode MODE] [--ready-fd N]",
	.description =
		"Runs one emulated SGX machine: its EPC, the kernel's SGX core with the "
		"reclaimer, and the enclave device (/dev/sgx_enclave, /dev/sgx_provision) "
		"served to client programs on the unix socket PATH.  Clients name it "
		"with SGXEMU_MACHINE=PATH; the socket's file mode decides who may "
		"connect, as a device node's does.\n"
		"\n"
		"SIGTERM or SIGINT stops it: clients are told, every enclave is "
		"released, and it exits.",
	.opts = machine_opts,
	.exit_ok = "Stopped by a signal with every enclave released and no page or "
		   "charge left.",
	.exit_fail = "Stopped, but pages or backing charges were left.",
	.examples = " sgxemu machine --socket /tmp/sgx.sock --epc 128M &\n"
		    " SGXEMU_MACHINE=/tmp/sgx.sock ./my-loader",
};

/* The page with the defaults sgx_machine_config_default() sets, which are
 * the machine library's rather than this command's constants. */
static void machine_help(void)
{
	struct tool_opt opts[sizeof(machine_opts) / sizeof(machine_opts[0])];
	struct tool_doc doc = machine_doc;
	struct sgx_machine_config cfg;

	sgx_machine_config_default(&cfg);
	memcpy(opts, machine_opts, sizeof(opts));
	for (size_t i = 0; opts[i].name; i++) {
		if (opts[i].val == OPT_EPC)
			opts[i].def = cfg.epc_bytes;
		else if (opts[i].val == OPT_SECTIONS)
			opts[i].def = cfg.nr_sections;
		else if (opts[i].val == OPT_LC)
			opts[i].def_text = cfg.lc_mode == SGX_LC_LOCKED ? "locked." : "writable.";
	}
	doc.opts = opts;
	tool_help(&doc);
}

int cmd_machine(int argc, char **argv)
{
	struct tool_getopt g = { .cmd = "machine", .opts = machine_opts };
	struct sgx_machine_config cfg;
	uint64_t v;
	int c, ready_fd = -1, stop_fd, ret;
	sigset_t stop;
	char why[512];

	sgx_machine_config_default(&cfg);
	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			if (!optarg[0])
				return tool_usage("machine", "--socket: an empty path");
			cfg.socket_path = optarg;
			break;
		case OPT_EPC:
			if (parse_size(optarg, &cfg.epc_bytes) || cfg.epc_bytes % 4096 ||
			    cfg.epc_bytes > MACHINE_MAX_EPC)
				return tool_usage("machine",
						  "--epc: '%s' is not a multiple of 4 KiB up to 64 GiB",
						  optarg);
			break;
		case OPT_SECTIONS:
			if (parse_u64(optarg, SGX_MAX_EPC_SECTIONS, &v) || !v)
				return tool_usage("machine", "--sections: '%s' is not in 1..%d", optarg,
						  SGX_MAX_EPC_SECTIONS);
			cfg.nr_sections = (unsigned int)v;
			break;
		case OPT_LIMIT:
			if (parse_u64(optarg, MACHINE_MAX_LIMIT_PCT, &v))
				return tool_usage("machine", "--backing-limit: '%s' is not in 0..%d",
						  optarg, MACHINE_MAX_LIMIT_PCT);
			cfg.backing_limit_pct = (uint32_t)v;
			break;
		case OPT_LC:
			if (!strcmp(optarg, "writable"))
				cfg.lc_mode = SGX_LC_WRITABLE;
			else if (!strcmp(optarg, "locked"))
				cfg.lc_mode = SGX_LC_LOCKED;
			else
				return tool_usage("machine", "--lc: '%s' is not writable or locked",
						  optarg);
			break;
		case OPT_SEED:
			if (parse_u64(optarg, UINT64_MAX, &cfg.seed))
				return tool_usage("machine", "--seed: '%s' is not a number", optarg);
			cfg.seeded = true;
			break;
		case OPT_MODE: {
			char *end;
			unsigned long mode = strtoul(optarg, &end, 8);

			if (!optarg[0] || *end || mode > 0777 || !mode)
				return tool_usage("machine", "--mode: '%s' is not an octal mode 1..0777",
						  optarg);
			cfg.socket_mode = (unsigned int)mode;
			break;
		}
		case OPT_READY_FD:
			if (parse_u64(optarg, 1 << 20, &v))
				return tool_usage("machine", "--ready-fd: '%s' is not a descriptor",
						  optarg);
			ready_fd = (int)v;
			break;
		case 'j':
			break;
		case 'h':
			machine_help();
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("machine", "unexpected argument '%s'", argv[optind]);
	if (!cfg.socket_path)
		return tool_usage("machine", "--socket PATH is required");
	if (cfg.epc_bytes / 4096 < cfg.nr_sections)
		return tool_usage("machine", "--epc: fewer pages than --sections");

	/* Blocked before any thread starts, so that every thread inherits the
	 * mask and the stop request arrives only on the signalfd. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	stop_fd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (stop_fd < 0)
		return tool_error("machine", "signalfd: %s", strerror(errno));
	why[0] = 0;
	ret = sgx_machine_run(&cfg, stop_fd, ready_fd, why, sizeof(why));
	if (ready_fd >= 0)
		close(ready_fd);
	close(stop_fd);
	if (ret == -EUCLEAN)
		return tool_fail("machine", "%s", why[0] ? why : "pages or charges were left");
	if (ret)
		return tool_error("machine", "%s", why[0] ? why : strerror(-ret));
	return EXIT_OK;
}
