/*
 * cmd_demo.c: `sgxemu demo`, the project's main job: takes the sample
 * enclave through what a loader and the kernel do with it on an emulated
 * SGX machine, and prints its identity.
 *
 * Two parts, each a list of steps over one state (struct demo); each step
 * does one thing and says what it did.
 *
 *   identity  load, measure, sign, build on a machine whose EPC holds the
 *             image (the leaves alone), EINIT;
 *   paging    a second machine with a small EPC and the kernel's SGX core
 *             (page cache, reclaimer thread, VA pages, backing storage):
 *             the sample built and initialized again through the core,
 *             beside data enclaves that together hold 4 times the EPC;
 *             known patterns written while the reclaimer pages, then every
 *             byte read back, the sample's against its image.
 *
 * Teardown always runs, whatever step failed: it removes what the identity
 * part built, releases every enclave of the paging part, and checks that
 * no EPC page, backing charge or VA page is left.  Later steps (enter the
 * enclave) will slot in before teardown.
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
#include "tools/workload.h"

#ifndef SGXEMU_SAMPLE_ENCLAVE
#define SGXEMU_SAMPLE_ENCLAVE "sample_enclave.elf"
#endif

#define DEMO_HEAP_PAGES 16
/* The largest image (heap included) the demo takes: the paging part sizes
 * its EPC at twice the image and writes 4 times that, so this bounds it
 * to an EPC of 64 MiB and 256 MiB of data. */
#define DEMO_MAX_IMAGE_PAGES 4096
#define MAX_HEAP_PAGES ((unsigned long long)DEMO_MAX_IMAGE_PAGES)

/* Paging: an EPC of at least this many frames (more if the image needs
 * it), enclaves totalling DEMO_OVERCOMMIT times it, and a backing limit of
 * DEMO_LIMIT_TIMES times it (the core's default, 150%, would refuse a
 * 4-fold overcommit: that is what the limit is for). */
#define DEMO_EPC_FRAMES 256
#define DEMO_DATA_ENCLAVES 3
#define DEMO_OVERCOMMIT 4
#define DEMO_LIMIT_TIMES 5
/* Page 0 of each data enclave is read again every this many pages. */
#define DEMO_HOT_EVERY 16

enum { OPT_JSON = 256, OPT_HEAP, OPT_DEBUG, OPT_ENCLAVE, OPT_EXPORT, OPT_FORCE };

static const struct tool_opt demo_opts[] = {
	{ .name = "heap", .val = OPT_HEAP, .arg = "N",
	  .doc = "Unmeasured heap pages after the image; the image and its heap "
		 "may have at most " TOOL_STR(DEMO_MAX_IMAGE_PAGES) " pages.",
	  .def_kind = TOOL_DEF_DEC, .def = DEMO_HEAP_PAGES },
	{ .name = "debug", .val = OPT_DEBUG,
	  .doc = "Sign and build a debug enclave (attributes MODE64BIT | DEBUG)." },
	{ .name = "enclave", .val = OPT_ENCLAVE, .arg = "ELF",
	  .doc = "Another enclave ELF instead of the sample.",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "the sample enclave built with "
						 "the command (" SGXEMU_SAMPLE_ENCLAVE ")." },
	{ .name = "export-key", .val = OPT_EXPORT, .arg = "FILE",
	  .doc = "Write the demo key as a PEM private key (for sgxemu sign) and exit; "
		 "takes no option but --force.  FILE must be new (or --force) and a "
		 "regular file.",
	  .def_text = "the demo is run instead." },
	{ .name = "force", .val = OPT_FORCE,
	  .doc = "With --export-key: replace FILE if it exists." },
	TOOL_JSON_OPTION(OPT_JSON, "the identity (mrenclave, mrsigner, attributes, xfrm, "
				   "size, pages), \"einit\", and \"paging\" with the core's "
				   "statistics"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc demo_doc = {
	.name = "demo",
	.synopsis = "sgxemu demo [--json] [--heap N] [--debug] [--enclave ELF]\n"
		    "sgxemu demo --export-key FILE [--force]",
	.description =
		"Loads the sample enclave, measures it, signs it with the embedded demo "
		"key (RSA-3072, e = 3; public, for demonstrations only), builds it on an "
		"emulated SGX machine (ECREATE, EADD, EEXTEND), initializes it (EINIT) "
		"and prints its identity: MRENCLAVE, MRSIGNER, attributes, size, pages.\n"
		"\n"
		"Then paging: on a second machine with an EPC of at least "
		TOOL_STR(DEMO_EPC_FRAMES) " pages and the kernel's SGX core (page cache, "
		"reclaimer thread, VA pages, backing storage), the sample is built and "
		"initialized again beside " TOOL_STR(DEMO_DATA_ENCLAVES) " data enclaves, "
		"together " TOOL_STR(DEMO_OVERCOMMIT) " times the EPC.  Known patterns are "
		"written while the reclaimer writes pages back (EBLOCK, ETRACK, EWB), "
		"every byte is read back (ELDU) and checked, the sample's against its "
		"image, and the core's statistics shown.  Everything is then released.",
	.opts = demo_opts,
	.exit_ok = "EINIT succeeded, every byte came back, and teardown left no EPC "
		   "page in use, no backing page charged and no VA page; or the key was "
		   "exported.",
	.exit_fail = "A step failed (the failing one is named), a byte came back "
		     "wrong, or teardown left something behind.",
	.examples = " sgxemu demo\n sgxemu demo --debug --json\n"
		    " sgxemu demo --export-key demo.pem",
};

struct demo {
	/* Inputs. */
	const char *image;
	struct tool_image im;
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
	bool einit_ok;
	uint64_t leaked;
	/* The paging part. */
	struct sgx_cpu *pcpu;
	struct sgx_core *core;
	uint64_t frames;
	struct sgx_encl *sample;
	struct wl_encl data[DEMO_DATA_ENCLAVES];
	uint64_t data_pages; /* per data enclave */
	uint64_t verified; /* pages read back right, data and sample */
	bool paged; /* the statistics below were taken */
	struct sgx_core_stats loaded_st, final_st;
	bool released, final_ok;
	/* One line per step, for the human report. */
	char log[16][160];
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
	int ret = tool_load_image("demo", d->image, &d->im, &d->layout);

	if (ret)
		return ret;
	if (d->layout.nr_pages > DEMO_MAX_IMAGE_PAGES)
		return tool_error("demo", "%s: %zu pages with the heap; the demo takes at most %llu",
				  d->image, d->layout.nr_pages, MAX_HEAP_PAGES);
	d->loaded = true;
	demo_log(d, "load", "%zu pages (%zu measured, %llu heap), size %#llx",
		 d->layout.nr_pages, layout_measured_pages(&d->layout),
		 (unsigned long long)d->im.eo.heap_pages, (unsigned long long)d->layout.size);
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
	struct sgx_sign_params p;
	int ret;

	tool_sign_defaults(&p);
	if (d->debug)
		p.attributes |= SGX_ATTR_DEBUG;
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
	d->einit_ok = true;
	demo_log(d, "init", "EINIT: ok");
	return 0;
}

/* --- Paging ------------------------------------------------------------- */

/* A small EPC, the core with its reclaimer thread, a generous backing
 * limit. */
static int demo_paging_machine(struct demo *d)
{
	struct sgx_core_config cfg;
	int ret;

	d->frames = DEMO_EPC_FRAMES;
	while (d->frames < 2 * build_frames_needed(&d->layout))
		d->frames *= 2;
	ret = build_machine(0, d->frames * SGX_PAGE_SIZE, SGX_LC_WRITABLE, &d->pcpu);
	if (ret)
		return tool_fail("demo", "cannot create the paging machine: %s", strerror(-ret));
	sgx_core_config_default(&cfg);
	cfg.backing_limit = DEMO_LIMIT_TIMES * d->frames;
	ret = sgx_core_create(d->pcpu, &cfg, &d->core);
	if (ret)
		return tool_fail("demo", "cannot start the SGX core: %s", strerror(-ret));
	demo_log(d, "epc", "second machine: EPC of %llu pages, SGX core, reclaimer thread",
		 (unsigned long long)d->frames);
	return 0;
}

/* The sample again, through the core, and the data enclaves: together
 * DEMO_OVERCOMMIT times the EPC, so adding them already pages. */
static int demo_paging_enclaves(struct demo *d)
{
	uint64_t total = DEMO_OVERCOMMIT * d->frames - d->layout.nr_pages, at;
	int einit_ret, ret;

	ret = wl_build_image(d->core, &d->layout, &d->sigstruct, &d->sample, &einit_ret);
	if (ret == -EPERM)
		return tool_fail("demo", "EINIT through the SGX core failed: %s",
				 sgx_error_name(einit_ret));
	if (ret)
		return tool_fail("demo", "cannot build the sample through the SGX core: %s",
				 strerror(-ret));
	d->data_pages = (total + DEMO_DATA_ENCLAVES - 1) / DEMO_DATA_ENCLAVES;
	for (int i = 0; i < DEMO_DATA_ENCLAVES; i++) {
		ret = wl_encl_create(d->core, i, d->data_pages, &d->data[i], &at);
		if (ret)
			return tool_fail("demo", "data enclave %d: adding page %llu failed: %s", i,
					 (unsigned long long)at, strerror(-ret));
	}
	demo_log(d, "enclaves", "sample (EINIT: ok) + %d x %llu data pages = %.1fx the EPC",
		 DEMO_DATA_ENCLAVES, (unsigned long long)d->data_pages,
		 (double)(d->layout.nr_pages + DEMO_DATA_ENCLAVES * d->data_pages) / d->frames);
	return 0;
}

/* Generation 1 over every data page, in order: the reclaimer writes the
 * oldest pages back as the owner goes, and loads them where it must. */
static int demo_paging_write(struct demo *d)
{
	uint64_t at;
	int ret;

	for (int i = 0; i < DEMO_DATA_ENCLAVES; i++) {
		ret = wl_encl_write(&d->data[i], 1, &at);
		if (ret)
			return tool_fail("demo", "data enclave %d: writing page %llu failed: %s", i,
					 (unsigned long long)at, strerror(-ret));
	}
	demo_log(d, "write", "a known pattern into %llu data pages",
		 (unsigned long long)(DEMO_DATA_ENCLAVES * d->data_pages));
	return 0;
}

/* Every data page read back (loaded, most of them) and compared, then
 * every page of the sample against its image. */
static int demo_paging_verify(struct demo *d)
{
	uint64_t at;
	int ret;

	for (int i = 0; i < DEMO_DATA_ENCLAVES; i++) {
		ret = wl_encl_verify(&d->data[i], DEMO_HOT_EVERY, &at);
		if (ret == -EBADMSG)
			return tool_fail("demo", "data enclave %d: page %llu came back wrong", i,
					 (unsigned long long)at);
		if (ret)
			return tool_fail("demo", "data enclave %d: reading page %llu failed: %s", i,
					 (unsigned long long)at, strerror(-ret));
		d->verified += d->data[i].pages;
	}
	ret = wl_image_verify(d->sample, &d->layout, &at);
	if (ret == -EBADMSG)
		return tool_fail("demo", "sample page at offset %#llx came back wrong",
				 (unsigned long long)d->layout.pages[at].offset);
	if (ret)
		return tool_fail("demo", "reading the sample's page at offset %#llx failed: %s",
				 (unsigned long long)d->layout.pages[at].offset, strerror(-ret));
	d->verified += d->layout.nr_pages;
	demo_log(d, "verify", "every byte back: %llu data pages, the sample's %zu against its image",
		 (unsigned long long)(DEMO_DATA_ENCLAVES * d->data_pages), d->layout.nr_pages);
	return 0;
}

/* The core's statistics while everything is loaded, no batch running. */
static int demo_paging_stats(struct demo *d)
{
	sgx_core_quiesce(d->core);
	sgx_core_stats(d->core, &d->loaded_st);
	d->paged = true;
	if (!d->loaded_st.pages_written_back || !d->loaded_st.pages_loaded)
		return tool_fail("demo", "the EPC was overcommitted yet %llu pages were written back and %llu loaded",
				 (unsigned long long)d->loaded_st.pages_written_back,
				 (unsigned long long)d->loaded_st.pages_loaded);
	return 0;
}

/* Part of teardown: releases every enclave of the paging part, checks
 * nothing is left, stops the core.  Returns 0 or an exit code. */
static int demo_paging_release(struct demo *d)
{
	char why[256] = "";
	uint64_t valid;
	int ret = 0;

	if (!d->core)
		goto out_cpu;
	if (d->sample)
		sgx_encl_release(d->sample);
	d->sample = NULL;
	for (int i = 0; i < DEMO_DATA_ENCLAVES; i++)
		wl_encl_release(&d->data[i]);
	sgx_core_quiesce(d->core);
	sgx_core_stats(d->core, &d->final_st);
	ret = sgx_core_check(d->core, true, why, sizeof(why));
	valid = sgx_cpu_nr_valid(d->pcpu);
	d->released = true;
	d->final_ok = !ret && wl_stats_empty(&d->final_st) && d->final_st.epc_poisoned == 0 &&
		      d->final_st.epc_leaked == 0 && valid == 0;
	sgx_core_destroy(d->core);
	d->core = NULL;
	if (!d->final_ok)
		ret = tool_fail("demo", "after release: %s", why[0] ? why :
				"EPC pages, backing charges or VA pages left");
	else
		demo_log(d, "release", "%llu of %llu EPC pages free, 0 backing pages charged, 0 VA pages",
			 (unsigned long long)d->final_st.epc_free,
			 (unsigned long long)d->final_st.epc_total);
out_cpu:
	if (d->pcpu)
		sgx_cpu_destroy(d->pcpu);
	d->pcpu = NULL;
	return ret;
}

/* The identity part's end: removes what was built, children first and the
 * SECS last, destroys its machine and checks no frame stayed valid.  Runs
 * as a step after EINIT and again (doing nothing more) in teardown. */
static int demo_remove(struct demo *d)
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
		demo_log(d, "remove", "every page removed, SECS last; 0 EPC pages in use");
	d->built = false;
	return ret;
}

/* Always runs: whatever step failed, both parts are taken down and
 * checked. */
static int demo_teardown(struct demo *d)
{
	int ret = demo_remove(d), pret = demo_paging_release(d);

	return ret ? ret : pret;
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
	{ "remove", demo_remove },
	{ "epc", demo_paging_machine },
	{ "enclaves", demo_paging_enclaves },
	{ "write", demo_paging_write },
	{ "verify", demo_paging_verify },
	{ "stats", demo_paging_stats },
};

/* The paging part in the JSON object: null when it was not reached. */
static void demo_paging_json(const struct demo *d, struct json *j)
{
	if (!d->frames) {
		json_null(j, "paging");
		return;
	}
	json_begin_object(j, "paging");
	json_u64(j, "epc_pages", d->frames);
	json_u64(j, "data_enclaves", DEMO_DATA_ENCLAVES);
	json_u64(j, "data_pages", DEMO_DATA_ENCLAVES * d->data_pages);
	json_u64(j, "sample_pages", d->layout.nr_pages);
	json_double(j, "overcommit",
		    (double)(d->layout.nr_pages + DEMO_DATA_ENCLAVES * d->data_pages) / d->frames);
	json_u64(j, "pages_verified", d->verified);
	if (d->paged)
		wl_stats_json(j, "stats", &d->loaded_st);
	else
		json_null(j, "stats");
	if (d->released)
		wl_stats_json(j, "final", &d->final_st);
	else
		json_null(j, "final");
	json_bool(j, "final_ok", d->final_ok);
	json_end_object(j);
}

/* The paging part's figures, for people. */
static void demo_paging_print(const struct demo *d)
{
	const struct sgx_core_stats *st = &d->loaded_st;

	printf("paging      %llu pages written back (+%llu SECS), %llu loaded (+%llu SECS)\n",
	       (unsigned long long)st->pages_written_back, (unsigned long long)st->secs_written_back,
	       (unsigned long long)st->pages_loaded, (unsigned long long)st->secs_loaded);
	printf("            %llu EWB retried after ETRACK, aging %llu hits / %llu misses\n",
	       (unsigned long long)st->ewb_retry_etrack, (unsigned long long)st->age_hits,
	       (unsigned long long)st->age_misses);
	printf("            before release: %llu VA pages, %llu backing pages charged (limit %llu)\n",
	       (unsigned long long)st->va_pages, (unsigned long long)st->backing_charged,
	       (unsigned long long)st->backing_limit);
	printf("            after release: %llu of %llu EPC pages free, %llu charged, %llu VA pages\n",
	       (unsigned long long)d->final_st.epc_free, (unsigned long long)d->final_st.epc_total,
	       (unsigned long long)d->final_st.backing_charged,
	       (unsigned long long)d->final_st.va_pages);
}

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
		json_string(&j, "einit", d->einit_ok ? "ok" :
				  d->st.leaf && !strcmp(d->st.leaf, "EINIT") ?
				  sgx_error_name(d->st.ret) : "not reached");
		json_string(&j, "failed_step", failed_step);
		json_u64(&j, "leaked_epc_pages", d->leaked);
		demo_paging_json(d, &j);
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
	demo_paging_print(d);
	printf("EINIT: ok\n");
}

static int demo_export_key(const char *path, bool force)
{
	/* Mode 0600 as for any private key, though this one is public. */
	struct tool_output o = { .cmd = "demo", .force = force, .mode = 0600 };
	int ret = tool_write_output(&o, path, demo_key_pem, strlen(demo_key_pem));

	if (ret)
		return ret;
	printf("wrote the demo key to %s\n", path);
	return EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
	struct demo *d;
	const char *failed = NULL, *export = NULL, *other = NULL;
	bool force = false;
	int c, ret = 0, tret;
	uint64_t v;

	d = calloc(1, sizeof(*d));
	if (!d)
		return tool_fail("demo", "out of memory");
	d->image = SGXEMU_SAMPLE_ENCLAVE;
	tool_image_defaults(&d->im);
	d->im.eo.heap_pages = DEMO_HEAP_PAGES;
	struct tool_getopt g = { .cmd = "demo", .opts = demo_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		if (c != OPT_EXPORT && c != OPT_FORCE && c != 'h' && c != '?')
			other = demo_opts[g.index].name;
		switch (c) {
		case OPT_HEAP:
			if (parse_u64(optarg, MAX_HEAP_PAGES, &v)) {
				ret = tool_usage("demo", "--heap: '%s' is not a page count in 0..%llu",
						 optarg, MAX_HEAP_PAGES);
				goto out;
			}
			d->im.eo.heap_pages = v;
			break;
		case OPT_DEBUG:
			d->debug = true;
			break;
		case OPT_ENCLAVE:
			d->image = optarg;
			break;
		case OPT_EXPORT:
			export = optarg;
			continue;
		case OPT_FORCE:
			force = true;
			continue;
		case OPT_JSON:
			d->json = true;
			break;
		case 'h':
			tool_help(&demo_doc);
			goto out;
		default:
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (optind != argc) {
		ret = tool_usage("demo", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (force && !export) {
		ret = tool_usage("demo", "--force applies only to --export-key");
		goto out;
	}
	if (export && other) {
		ret = tool_usage("demo", "--export-key takes no other option (got '--%s')", other);
		goto out;
	}
	if (export) {
		ret = demo_export_key(export, force);
		goto out;
	}
	if (d->debug)
		d->im.eo.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;

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
