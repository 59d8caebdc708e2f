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

static const char machine_help[] =
	"usage: sgxemu machine --socket PATH [--epc SIZE] [--sections N]\n"
	"                      [--backing-limit PERCENT] [--lc writable|locked]\n"
	"                      [--seed N] [--mode MODE]\n"
	"\n"
	"Runs one emulated SGX machine: its EPC, the kernel's SGX core with the\n"
	"reclaimer, and the enclave device (/dev/sgx_enclave, /dev/sgx_provision)\n"
	"served to client programs on the unix socket PATH.  Clients name it with\n"
	"SGXEMU_MACHINE=PATH; the socket's file mode decides who may connect, as a\n"
	"device node's does.  SIGTERM or SIGINT stops it: clients are told, every\n"
	"enclave is released, and it exits 0 (1 if pages or charges were left).\n"
	"A PATH that exists is refused unless it is a stale socket (one no machine\n"
	"listens on); the machine removes only the socket it made.\n"
	"\n"
	"      --socket PATH          where to listen (required)\n"
	"      --epc SIZE             EPC size (K, M, G suffixes; default 64M)\n"
	"      --sections N           EPC sections, one NUMA node each (1..8, default 1)\n"
	"      --backing-limit PCT    pages that may be written back, in percent of\n"
	"                             the EPC (0..100000, default 150; 0: none)\n"
	"      --lc writable|locked   launch control (default writable)\n"
	"      --seed N               fused keys from N (default: random)\n"
	"      --mode MODE            the socket's permissions in octal (default:\n"
	"                             0666 less the umask)\n"
	"      --ready-fd N           write one byte to descriptor N once listening\n"
	"\n"
	"Example: sgxemu machine --socket /tmp/sgx.sock --epc 128M &\n"
	"         SGXEMU_MACHINE=/tmp/sgx.sock ./my-loader\n";

int cmd_machine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "epc", required_argument, NULL, OPT_EPC },
		{ "sections", required_argument, NULL, OPT_SECTIONS },
		{ "backing-limit", required_argument, NULL, OPT_LIMIT },
		{ "lc", required_argument, NULL, OPT_LC },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tool_getopt g = { .cmd = "machine", .shortopts = "h", .longopts = opts };
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
			fputs(machine_help, stdout);
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
