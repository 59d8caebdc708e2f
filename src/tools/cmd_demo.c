/*
 * cmd_demo.c: `sgxemu demo`, the project's main job: takes the sample
 * enclave through what a loader and the kernel do with it on an emulated
 * SGX machine, and prints its identity.
 *
 * The demo is a list of steps over one state (struct demo); each step does
 * one thing and says what it did.  Teardown always runs, whatever step
 * failed, and checks that no EPC page is left in use.  Later steps (enter
 * the enclave, page it out and back) will slot in before teardown.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tools/build.h"
#include "tools/json.h"
#include "tools/tools.h"

#ifndef SGXEMU_SAMPLE_ENCLAVE
#define SGXEMU_SAMPLE_ENCLAVE "sample_enclave.elf"
#endif

#define DEMO_HEAP_PAGES 16
#define MAX_HEAP_PAGES (1ULL << 18)

enum { OPT_JSON = 256, OPT_HEAP, OPT_DEBUG, OPT_ENCLAVE, OPT_EXPORT };

static const char demo_help[] =
	"usage: sgxemu demo [--json] [--heap N] [--debug] [--enclave ELF]\n"
	"       sgxemu demo --export-key FILE\n"
	"\n"
	"Loads the sample enclave, measures it, signs it with the embedded demo\n"
	"key (RSA-3072, e = 3; public, for demonstrations only), builds it on an\n"
	"emulated SGX machine (ECREATE, EADD, EEXTEND), initializes it (EINIT)\n"
	"and prints its identity: MRENCLAVE, MRSIGNER, attributes, size, pages.\n"
	"Exit 0 when EINIT succeeds and teardown leaves no EPC page in use.\n"
	"\n"
	"      --heap N          heap pages after the image (default 16)\n"
	"      --debug           sign and build a debug enclave\n"
	"      --enclave ELF     another enclave image instead of the sample\n"
	"      --export-key FILE write the demo key as PEM (for sgxemu sign) and exit\n"
	"      --json            print one JSON object\n";

struct demo {
	/* Inputs. */
	const char *image;
	struct sgx_elf_options eo;
	bool debug;
	bool json;
	/* What the steps build up. */
	struct sgx_layout layout;
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	EVP_PKEY *key;
	struct sgx_sigstruct sigstruct;
	struct sgx_cpu *cpu;
	struct build_enclave encl;
	struct build_status st;
	bool loaded, measured, signed_; /* which identity fields are known */
	bool built;
	uint64_t leaked;
	/* One line per step, for the human report. */
	char log[8][160];
	int nr_log;
};

static void demo_log(struct demo *d, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void demo_log(struct demo *d, const char *step, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->nr_log == (int)(sizeof(d->log) / sizeof(d->log[0])))
		return;
	n = snprintf(d->log[d->nr_log], sizeof(d->log[0]), "  %-9s ", step);
	va_start(ap, fmt);
	vsnprintf(d->log[d->nr_log] + n, sizeof(d->log[0]) - n, fmt, ap);
	va_end(ap);
	d->nr_log++;
}

static int demo_load(struct demo *d)
{
	int ret = tool_load_image("demo", d->image, &d->eo, &d->layout);

	if (ret)
		return ret;
	d->loaded = true;
	demo_log(d, "load", "%zu pages (%zu measured, %llu heap), size %#llx",
		 d->layout.nr_pages, layout_measured_pages(&d->layout),
		 (unsigned long long)d->eo.heap_pages, (unsigned long long)d->layout.size);
	return 0;
}

static int demo_measure(struct demo *d)
{
	int ret = tool_measure("demo", &d->layout, d->mrenclave);

	if (!ret) {
		d->measured = true;
		demo_log(d, "measure", "MRENCLAVE computed in software");
	}
	return ret;
}

static int demo_sign(struct demo *d)
{
	struct sgx_sign_params p = {
		.attributes = SGX_ATTR_MODE64BIT | (d->debug ? SGX_ATTR_DEBUG : 0),
		.xfrm = SGX_XFRM_LEGACY,
		.attributes_mask = ~0ULL,
		.xfrm_mask = SGX_XFRM_LEGACY,
		.misc_mask = ~0U,
		.date = today_bcd(),
	};
	int ret;

	if (demo_key_load(&d->key))
		return tool_fail("demo", "cannot load the embedded demo key");
	ret = sgx_sigstruct_sign(d->key, &p, d->mrenclave, &d->sigstruct);
	if (ret)
		return tool_fail("demo", "signing failed: %s", strerror(-ret));
	ret = sgx_sigstruct_check(&d->sigstruct, d->mrsigner);
	if (ret)
		return tool_fail("demo", "the SIGSTRUCT does not pass EINIT's checks: %s",
				 sgx_error_name(ret));
	d->signed_ = true;
	demo_log(d, "sign", "SIGSTRUCT signed with the demo key, signature ok");
	return 0;
}

static int demo_machine(struct demo *d)
{
	uint64_t frames = build_frames_needed(&d->layout);
	int ret = build_machine(frames, 0, SGX_LC_WRITABLE, &d->cpu);

	if (ret)
		return tool_fail("demo", "cannot create the emulated machine: %s", strerror(-ret));
	demo_log(d, "machine", "EPC of %llu pages, launch control writable",
		 (unsigned long long)sgx_cpu_nr_frames(d->cpu));
	return 0;
}

static int demo_build(struct demo *d)
{
	int ret = build_create(d->cpu, &d->layout, &d->sigstruct, 0, &d->encl, &d->st);

	d->built = ret >= 0 && d->encl.epc;
	if (!ret)
		ret = build_add_pages(&d->encl, &d->layout, &d->st);
	if (ret < 0)
		return tool_fail("demo", "cannot build: %s", strerror(-ret));
	if (ret)
		return tool_fail("demo", "%s failed: %s at offset %#llx", d->st.leaf,
				 sgx_error_name(d->st.ret), (unsigned long long)d->st.offset);
	demo_log(d, "build", "ECREATE, %zu x EADD, %zu x EEXTEND", d->layout.nr_pages,
		 16 * layout_measured_pages(&d->layout));
	return 0;
}

static int demo_init(struct demo *d)
{
	int ret = build_init(&d->encl, &d->sigstruct, &d->st);

	if (ret < 0)
		return tool_fail("demo", "cannot initialize: %s", strerror(-ret));
	if (ret)
		return tool_fail("demo", "%s failed: %s", d->st.leaf, sgx_error_name(d->st.ret));
	demo_log(d, "init", "EINIT: ok");
	return 0;
}

/* Always runs: removes what was built and checks nothing is left. */
static int demo_teardown(struct demo *d)
{
	int ret = 0, rm = 0;

	if (d->built)
		rm = build_remove(&d->encl);
	if (d->cpu) {
		d->leaked = sgx_cpu_nr_valid(d->cpu);
		sgx_cpu_destroy(d->cpu);
		d->cpu = NULL;
	}
	if (rm)
		ret = tool_fail("demo", "EREMOVE failed: %s", sgx_error_name(rm));
	if (d->leaked)
		ret = tool_fail("demo", "%llu EPC pages still valid after teardown",
				(unsigned long long)d->leaked);
	if (!ret && d->built)
		demo_log(d, "teardown", "every page removed, SECS last; 0 EPC pages in use");
	return ret;
}

static const struct demo_step {
	const char *name;
	int (*run)(struct demo *d);
} demo_steps[] = {
	{ "load", demo_load },
	{ "measure", demo_measure },
	{ "sign", demo_sign },
	{ "machine", demo_machine },
	{ "build", demo_build },
	{ "init", demo_init },
};

static void demo_print(const struct demo *d, const char *failed_step)
{
	char hex[65], attrs[128];
	uint64_t attributes = d->sigstruct.body.attributes;

	attributes_string(attributes, attrs, sizeof(attrs));
	if (d->json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "enclave", d->image);
		/* What a failed run did not reach is null. */
		if (d->measured)
			json_hex(&j, "mrenclave", d->mrenclave, 32);
		else
			json_null(&j, "mrenclave");
		if (d->signed_) {
			json_hex(&j, "mrsigner", d->mrsigner, 32);
			json_hex_u64(&j, "attributes", attributes);
			json_string(&j, "attribute_names", attrs);
			json_hex_u64(&j, "xfrm", d->sigstruct.body.xfrm);
		} else {
			json_null(&j, "mrsigner");
			json_null(&j, "attributes");
			json_null(&j, "attribute_names");
			json_null(&j, "xfrm");
		}
		if (d->loaded) {
			json_u64(&j, "size", d->layout.size);
			json_u64(&j, "pages", d->layout.nr_pages);
			json_u64(&j, "measured_pages", layout_measured_pages(&d->layout));
		} else {
			json_null(&j, "size");
			json_null(&j, "pages");
			json_null(&j, "measured_pages");
		}
		json_string(&j, "einit", failed_step ? (d->st.leaf && !strcmp(d->st.leaf, "EINIT") ?
							sgx_error_name(d->st.ret) : "not reached") : "ok");
		json_string(&j, "failed_step", failed_step);
		json_u64(&j, "leaked_epc_pages", d->leaked);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	printf("sgxemu demo: %s on an emulated SGX machine\n", d->image);
	for (int i = 0; i < d->nr_log; i++)
		printf("%s\n", d->log[i]);
	if (failed_step) {
		if (d->st.leaf && !strcmp(d->st.leaf, "EINIT"))
			printf("EINIT: %s\n", sgx_error_name(d->st.ret));
		printf("demo failed at step '%s'\n", failed_step);
		return;
	}
	printf("\n");
	hex_string(d->mrenclave, 32, hex);
	printf("MRENCLAVE   %s\n", hex);
	hex_string(d->mrsigner, 32, hex);
	printf("MRSIGNER    %s\n", hex);
	printf("attributes  %#llx (%s), xfrm %#llx\n", (unsigned long long)attributes, attrs,
	       (unsigned long long)d->sigstruct.body.xfrm);
	printf("size        %#llx\n", (unsigned long long)d->layout.size);
	printf("pages       %zu (%zu measured)\n", d->layout.nr_pages,
	       layout_measured_pages(&d->layout));
	printf("EINIT: ok\n");
}

static int demo_export_key(const char *path)
{
	int ret = write_file(path, demo_key_pem, strlen(demo_key_pem));

	if (ret)
		return tool_error("demo", "%s: %s", path, strerror(-ret));
	printf("wrote the demo key to %s\n", path);
	return EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "heap", required_argument, NULL, OPT_HEAP },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "enclave", required_argument, NULL, OPT_ENCLAVE },
		{ "export-key", required_argument, NULL, OPT_EXPORT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct demo *d;
	const char *failed = NULL;
	int c, ret = 0, tret;
	uint64_t v;

	d = calloc(1, sizeof(*d));
	if (!d)
		return tool_fail("demo", "out of memory");
	d->image = SGXEMU_SAMPLE_ENCLAVE;
	d->eo.heap_pages = DEMO_HEAP_PAGES;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HEAP:
			if (parse_u64(optarg, MAX_HEAP_PAGES, &v)) {
				ret = tool_usage("demo", "--heap: '%s' is not a page count in 0..%llu",
						 optarg, MAX_HEAP_PAGES);
				goto out;
			}
			d->eo.heap_pages = v;
			break;
		case OPT_DEBUG:
			d->debug = true;
			break;
		case OPT_ENCLAVE:
			d->image = optarg;
			break;
		case OPT_EXPORT:
			ret = demo_export_key(optarg);
			goto out;
		case OPT_JSON:
			d->json = true;
			break;
		case 'h':
			fputs(demo_help, stdout);
			goto out;
		default:
			ret = tool_usage("demo", "bad option");
			goto out;
		}
	}
	if (optind != argc) {
		ret = tool_usage("demo", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (d->debug)
		d->eo.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;

	for (size_t i = 0; i < sizeof(demo_steps) / sizeof(demo_steps[0]); i++) {
		ret = demo_steps[i].run(d);
		if (ret) {
			failed = demo_steps[i].name;
			break;
		}
	}
	tret = demo_teardown(d);
	if (!ret && tret) {
		ret = tret;
		failed = "teardown";
	}
	demo_print(d, failed);
	EVP_PKEY_free(d->key);
	sgx_layout_free(&d->layout);
out:
	free(d);
	return ret;
}
