/*
 * cmd_check.c: `sgxemu check`: builds an image on a fresh emulated machine
 * with a given SIGSTRUCT, as the Linux driver would, and reports whether
 * EINIT accepts it.  Then takes the enclave down again and makes sure the
 * machine has no EPC page left in use.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/build.h"
#include "tools/json.h"
#include "tools/tools.h"

/* The machine backs its whole EPC when it starts: this bounds the memory a
 * check takes (an ELF image spans at most 4 GiB). */
#define MAX_EPC_MB 4096

enum { OPT_JSON = 256, OPT_LC, OPT_EPC };

static const struct tool_opt check_opts[] = {
	TOOL_HEAP_OPTION,
	TOOL_SSA_OPTION,
	{ .name = "lc", .val = OPT_LC, .arg = "MODE",
	  .doc = "Launch control: writable (the OS writes IA32_SGXLEPUBKEYHASH, so "
		 "any signer's enclave initializes, as on a machine with flexible "
		 "launch control) or locked (firmware locked it to Intel's key: other "
		 "signers need a launch token, which check does not make, so EINIT "
		 "refuses them).",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "writable." },
	{ .name = "epc-mb", .val = OPT_EPC, .arg = "N",
	  .doc = "The machine's EPC in MiB, 1.." TOOL_STR(MAX_EPC_MB) "; an EPC "
		 "smaller than the enclave's pages and SECS is refused.",
	  .def_kind = TOOL_DEF_TEXT,
	  .def_text = "enough for the image: its pages and the SECS, rounded up to a MiB." },
	{ .name = "max-memory", .val = TOOL_OPT_MAX_MEMORY, .arg = "SIZE",
	  .doc = "The host memory the check may take: the EPC, which the machine "
		 "backs in full, and the image; bytes, or with K, M, G or T.  A check "
		 "that would pass it is refused before the machine is made, with the "
		 "figure.",
	  .def_kind = TOOL_DEF_SIZE, .def = TOOL_MAX_MEMORY },
	TOOL_JSON_OPTION(OPT_JSON, "MRENCLAVE, the SIGSTRUCT's, MRSIGNER, the layout, "
				   "\"einit\", the failing leaf and error, \"problems\" and "
				   "the EPC pages left"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc check_doc = {
	.name = "check",
	.synopsis = "sgxemu check [--json] [--heap N] [--ssa-frame-size N]\n"
		    "             [--lc locked|writable] [--epc-mb N] [--max-memory SIZE]\n"
		    "             IMAGE SIGSTRUCT",
	.description =
		"Builds IMAGE on an emulated SGX machine as the Linux driver does: "
		"ECREATE with a SECS made from the SIGSTRUCT (attributes, XFRM, "
		"MISCSELECT) and the image (size, SSA frame size), EADD of every page "
		"and EEXTEND of every measured one, then EINIT with the signer's hash in "
		"IA32_SGXLEPUBKEYHASH and a zeroed EINITTOKEN.  Prints 'EINIT: ok' or "
		"the SGX error EINIT returned (or the leaf and offset where the build "
		"stopped), and the rules the SIGSTRUCT breaks on its own.  Then removes "
		"every page and checks that no EPC page is left in use.\n"
		"\n"
		"One of IMAGE and SIGSTRUCT may be '-' or /dev/fd/N.",
	.opts = check_opts,
	.exit_ok = "EINIT succeeded and teardown left no EPC page in use.",
	.exit_fail = "EINIT refused (or the build stopped before it), or teardown "
		     "left pages in use.",
	.examples = " sgxemu check enclave.elf enclave.sig\n"
		    " sgxemu check --heap 16 --lc locked --json enclave.elf enclave.sig",
};

/* What one check found, for printing. */
struct check_result {
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	struct build_status st;
	int build_ret;
	int remove_ret;
	uint64_t leaked;
	uint64_t epc_bytes;
	struct sig_problems problems; /* of the SIGSTRUCT on its own */
};

static void check_print(bool json, const char *image, const char *sspath,
			const struct sgx_layout *layout, const struct sgx_sigstruct *ss,
			enum sgx_lc_mode lc, const struct check_result *r)
{
	const char *einit, *error = r->st.leaf ? sgx_error_name(r->st.ret) : NULL;
	bool match = !memcmp(r->mrenclave, ss->body.mrenclave, 32);
	char hex[65];

	if (r->build_ret == 0)
		einit = "ok";
	else if (r->st.leaf && !strcmp(r->st.leaf, "EINIT"))
		einit = error;
	else
		einit = "not reached";

	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "image", image);
		json_string(&j, "sigstruct", sspath);
		json_hex(&j, "mrenclave", r->mrenclave, 32);
		json_hex(&j, "sigstruct_mrenclave", ss->body.mrenclave, 32);
		json_hex(&j, "mrsigner", r->mrsigner, 32);
		json_hex_u64(&j, "attributes", ss->body.attributes);
		json_hex_u64(&j, "xfrm", ss->body.xfrm);
		json_u64(&j, "size", layout->size);
		json_u64(&j, "pages", layout->nr_pages);
		json_u64(&j, "measured_pages", layout_measured_pages(layout));
		json_u64(&j, "epc_bytes", r->epc_bytes);
		json_string(&j, "lc", lc == SGX_LC_LOCKED ? "locked" : "writable");
		json_string(&j, "einit", einit);
		json_string(&j, "failed_leaf", r->st.leaf);
		json_string(&j, "error", error);
		if (r->st.leaf && strcmp(r->st.leaf, "EINIT"))
			json_hex_u64(&j, "failed_offset", r->st.offset);
		json_string(&j, "eremove", r->remove_ret ? sgx_error_name(r->remove_ret) : "ok");
		json_u64(&j, "leaked_epc_pages", r->leaked);
		tool_print_problems("check", sspath, &r->problems, &j);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	hex_string(r->mrenclave, 32, hex);
	printf("image      %s: %zu pages (%zu measured), size %#llx\n", image,
	       layout->nr_pages, layout_measured_pages(layout),
	       (unsigned long long)layout->size);
	printf("MRENCLAVE  %s\n", hex);
	hex_string(ss->body.mrenclave, 32, hex);
	printf("SIGSTRUCT  %s (%s)\n", hex, match ? "matches" : "differs");
	hex_string(r->mrsigner, 32, hex);
	printf("MRSIGNER   %s\n", hex);
	if (r->st.leaf && strcmp(r->st.leaf, "EINIT"))
		printf("%s: %s at offset %#llx\n", r->st.leaf, error,
		       (unsigned long long)r->st.offset);
	printf("EINIT: %s\n", einit);
	tool_print_problems("check", sspath, &r->problems, NULL);
}

int cmd_check(int argc, char **argv)
{
	struct tool_image im;
	enum sgx_lc_mode lc = SGX_LC_WRITABLE;
	struct check_result r = { 0 };
	struct build_enclave encl;
	struct sgx_sigstruct ss;
	struct sgx_layout layout;
	struct sgx_cpu *cpu;
	uint64_t epc_mb = 0, frames, epc;
	bool json = false;
	char what[96];
	int c, ret;

	tool_image_defaults(&im);
	struct tool_getopt g = { .cmd = "check", .opts = check_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		ret = tool_image_option("check", c, optarg, &im);
		if (ret < 0)
			return -ret;
		if (ret)
			continue;
		switch (c) {
		case OPT_LC:
			if (!strcmp(optarg, "locked"))
				lc = SGX_LC_LOCKED;
			else if (!strcmp(optarg, "writable"))
				lc = SGX_LC_WRITABLE;
			else
				return tool_usage("check", "--lc: '%s' is not locked or writable",
						  optarg);
			break;
		case OPT_EPC:
			if (parse_u64(optarg, MAX_EPC_MB, &epc_mb) || epc_mb == 0)
				return tool_usage("check", "--epc-mb: '%s' is not in 1..%d", optarg,
						  MAX_EPC_MB);
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			tool_help(&check_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return argc - optind > 2 ?
		       tool_usage("check", "want IMAGE and SIGSTRUCT, got %d arguments: '%s' is one too many",
				  argc - optind, argv[optind + 2]) :
		       tool_usage("check", "want IMAGE and SIGSTRUCT, got %d argument%s",
				  argc - optind, argc - optind == 1 ? "" : "s");

	/* A stream is read to its end: two would need both at once. */
	if (tool_is_stream(argv[optind]) && tool_is_stream(argv[optind + 1]))
		return tool_usage("check", "one input at a time from a pipe: IMAGE '%s' and SIGSTRUCT '%s' are both streams",
				  argv[optind], argv[optind + 1]);
	ret = tool_read_sigstruct("check", argv[optind + 1], &ss);
	if (ret)
		return ret;
	ret = tool_load_image("check", argv[optind], &im, &layout);
	if (ret)
		return ret;
	if (!build_base_for(layout.size)) {
		ret = tool_error("check", "%s: an enclave of %#llx bytes cannot be placed in the user address space",
				 argv[optind], (unsigned long long)layout.size);
		goto out_layout;
	}
	frames = build_frames_needed(&layout);
	if (frames > MAX_EPC_MB * (1ULL << 20) / SGX_PAGE_SIZE) {
		ret = tool_error("check", "%s: the enclave needs %llu EPC pages (SECS + %zu pages), more than the %d MiB check builds in",
				 argv[optind], (unsigned long long)frames, layout.nr_pages,
				 MAX_EPC_MB);
		goto out_layout;
	}
	if (epc_mb && frames > epc_mb * (1ULL << 20) / SGX_PAGE_SIZE) {
		ret = tool_error("check", "an EPC of %llu MiB holds %llu pages; the enclave needs %llu (SECS + %zu pages)",
				 (unsigned long long)epc_mb,
				 (unsigned long long)(epc_mb * (1ULL << 20) / SGX_PAGE_SIZE),
				 (unsigned long long)frames, layout.nr_pages);
		goto out_layout;
	}
	/* The machine backs its whole EPC: refused here, with the figure,
	 * rather than found out by the host. */
	epc = epc_mb ? epc_mb << 20 : build_epc_bytes(frames);
	snprintf(what, sizeof(what), "an EPC of %llu MiB + the image's %llu MiB",
		 (unsigned long long)(epc >> 20),
		 (unsigned long long)((layout_host_bytes(&layout) + (1 << 20) - 1) >> 20));
	ret = tool_memory_check("check", argv[optind], &im, epc + layout_host_bytes(&layout), what);
	if (ret)
		goto out_layout;
	ret = tool_measure("check", &layout, r.mrenclave);
	if (ret)
		goto out_layout;
	sgx_sigstruct_mrsigner(&ss, r.mrsigner);
	sigstruct_problems(&ss, &r.problems);

	ret = build_machine(frames, epc_mb << 20, lc, &cpu);
	if (ret) {
		ret = tool_fail("check", "cannot create the emulated machine: %s", strerror(-ret));
		goto out_layout;
	}
	r.epc_bytes = sgx_cpu_nr_frames(cpu) * SGX_PAGE_SIZE;

	r.build_ret = build_enclave(cpu, &layout, &ss, 0, &encl, &r.st);
	r.remove_ret = build_remove(&encl);
	r.leaked = sgx_cpu_nr_valid(cpu);
	sgx_cpu_destroy(cpu);

	if (r.build_ret < 0) {
		ret = tool_fail("check", "cannot build the enclave: %s", strerror(-r.build_ret));
		goto out_layout;
	}
	check_print(json, argv[optind], argv[optind + 1], &layout, &ss, lc, &r);
	ret = r.build_ret ? EXIT_CHECK_FAILED : EXIT_OK;
	if (r.remove_ret)
		ret = tool_fail("check", "EREMOVE failed: %s", sgx_error_name(r.remove_ret));
	if (r.leaked)
		ret = tool_fail("check", "%llu EPC pages still valid after teardown",
				(unsigned long long)r.leaked);
out_layout:
	sgx_layout_free(&layout);
	return ret;
}
