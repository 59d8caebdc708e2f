/*
 * cmd_image.c: looking inside an enclave image: `sgxemu show IMAGE` lists
 * the pages its build adds (or, with --summary, their ranges), and
 * `sgxemu sgxs IMAGE -o OUT` writes its SGXS measurement stream, the form
 * the rust-sgx tools read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tools/json.h"
#include "tools/tools.h"

enum { OPT_JSON = 256, OPT_FORCE };

static const char *page_type(uint64_t flags)
{
	switch ((flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT) {
	case 0:
		return "SECS";
	case 1:
		return "TCS";
	case 2:
		return "REG";
	case 3:
		return "VA";
	case 4:
		return "TRIM";
	}
	return "?";
}

static void page_perms(uint64_t flags, char out[4])
{
	out[0] = flags & SGX_SECINFO_R ? 'r' : '-';
	out[1] = flags & SGX_SECINFO_W ? 'w' : '-';
	out[2] = flags & SGX_SECINFO_X ? 'x' : '-';
	out[3] = '\0';
}

/* "yes", "no", or the chunk mask EEXTEND measures of a partly measured
 * page. */
static void page_measured(const struct sgx_layout_page *pg, char *out, size_t len)
{
	uint16_t chunks = sgx_layout_page_chunks(pg);

	if (chunks == 0xFFFF)
		snprintf(out, len, "yes");
	else if (!chunks)
		snprintf(out, len, "no");
	else
		snprintf(out, len, "chunks %#06x", chunks);
}

/* SHA-256 of the 4096 bytes EADD copies (a zero page when data is NULL). */
static int page_digest(const struct sgx_layout_page *pg, uint8_t out[32])
{
	static const uint8_t zero[SGX_PAGE_SIZE];
	unsigned int len = 32;

	return EVP_Digest(pg->data ? pg->data : zero, SGX_PAGE_SIZE, out, &len, EVP_sha256(),
			  NULL) ? 0 : -ENOMEM;
}

/* Pages alike for --summary: type, permissions, measurement, and whether
 * their contents are zero. */
static bool pages_alike(const struct sgx_layout_page *a, const struct sgx_layout_page *b)
{
	return a->secinfo_flags == b->secinfo_flags &&
	       sgx_layout_page_chunks(a) == sgx_layout_page_chunks(b) &&
	       !a->data == !b->data && a->offset + SGX_PAGE_SIZE == b->offset;
}

static void print_pages(const char *path, const struct sgx_layout *l, bool json)
{
	char perms[4], meas[24], hex[65];
	uint8_t digest[32];
	struct json j;

	if (json) {
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "image", path);
		json_u64(&j, "size", l->size);
		json_u64(&j, "ssa_frame_size", l->ssa_frame_size);
		json_begin_array(&j, "pages");
	} else {
		printf("%s: %zu pages, size %#llx, SSA frame %u page%s\n", path, l->nr_pages,
		       (unsigned long long)l->size, l->ssa_frame_size,
		       l->ssa_frame_size == 1 ? "" : "s");
		printf("%-12s %-4s %-4s %-13s %s\n", "offset", "type", "perm", "measured",
		       "sha256 of contents");
	}
	for (size_t i = 0; i < l->nr_pages; i++) {
		const struct sgx_layout_page *pg = &l->pages[i];

		page_perms(pg->secinfo_flags, perms);
		page_measured(pg, meas, sizeof(meas));
		if (page_digest(pg, digest))
			memset(digest, 0, sizeof(digest));
		hex_string(digest, 32, hex);
		if (json) {
			json_begin_object(&j, NULL);
			json_hex_u64(&j, "offset", pg->offset);
			json_string(&j, "type", page_type(pg->secinfo_flags));
			json_string(&j, "perm", perms);
			json_string(&j, "measured", meas);
			json_hex_u64(&j, "chunks", sgx_layout_page_chunks(pg));
			json_bool(&j, "zero", !pg->data);
			json_string(&j, "sha256", hex);
			json_end_object(&j);
		} else {
			printf("0x%-10llx %-4s %-4s %-13s %s\n", (unsigned long long)pg->offset,
			       page_type(pg->secinfo_flags), perms, meas, hex);
		}
	}
	if (json) {
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	}
}

static void print_summary(const char *path, const struct sgx_layout *l, bool json)
{
	char perms[4], meas[24];
	struct json j;

	if (json) {
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "image", path);
		json_u64(&j, "size", l->size);
		json_u64(&j, "pages", l->nr_pages);
		json_u64(&j, "measured_pages", layout_measured_pages(l));
		json_begin_array(&j, "ranges");
	} else {
		printf("%s: %zu pages (%zu measured), size %#llx\n", path, l->nr_pages,
		       layout_measured_pages(l), (unsigned long long)l->size);
		printf("%-25s %7s %-4s %-4s %-13s %s\n", "range", "pages", "type", "perm",
		       "measured", "contents");
	}
	for (size_t i = 0, n; i < l->nr_pages; i += n) {
		const struct sgx_layout_page *pg = &l->pages[i];
		uint64_t end;

		for (n = 1; i + n < l->nr_pages && pages_alike(&l->pages[i + n - 1], &l->pages[i + n]);
		     n++)
			;
		end = pg->offset + n * SGX_PAGE_SIZE;
		page_perms(pg->secinfo_flags, perms);
		page_measured(pg, meas, sizeof(meas));
		if (json) {
			json_begin_object(&j, NULL);
			json_hex_u64(&j, "offset", pg->offset);
			json_hex_u64(&j, "end", end);
			json_u64(&j, "pages", n);
			json_string(&j, "type", page_type(pg->secinfo_flags));
			json_string(&j, "perm", perms);
			json_string(&j, "measured", meas);
			json_bool(&j, "zero", !pg->data);
			json_end_object(&j);
		} else {
			printf("0x%08llx-0x%08llx %9zu %-4s %-4s %-13s %s\n",
			       (unsigned long long)pg->offset, (unsigned long long)end, n,
			       page_type(pg->secinfo_flags), perms, meas, pg->data ? "data" : "zero");
		}
	}
	if (json) {
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	}
}

int show_image(const char *path, const struct tool_image *im, bool summary, bool json)
{
	struct sgx_layout layout;
	int ret = tool_load_image("show", path, im, &layout);

	if (ret)
		return ret;
	if (summary)
		print_summary(path, &layout, json);
	else
		print_pages(path, &layout, json);
	sgx_layout_free(&layout);
	return EXIT_OK;
}

/* --- sgxs --------------------------------------------------------------- */

static const struct tool_opt sgxs_opts[] = {
	{ .name = "output", .short_name = 'o', .val = 'o', .arg = "OUT",
	  .doc = "Where to write the stream.  OUT must be new (or --force), a "
		 "regular file and not IMAGE; it is written through a temporary file "
		 "and renamed into place.",
	  .def_text = "required." },
	{ .name = "force", .val = OPT_FORCE,
	  .doc = "Replace OUT if it exists (never IMAGE, nor a FIFO or device)." },
	TOOL_IMAGE_OPTIONS,
	TOOL_JSON_OPTION(OPT_JSON, "{sgxs, image, mrenclave, bytes, pages}"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc sgxs_doc = {
	.name = "sgxs",
	.synopsis = "sgxemu sgxs [--json] [--heap N] [--ssa-frame-size N] [--max-memory SIZE]\n"
		    "            [--force] -o OUT IMAGE",
	.description =
		"Writes IMAGE's SGXS measurement stream: the ECREATE, EADD and EEXTEND "
		"records in build order, as rust-sgx's sgxs tools (sgxs-info, sgxs-sign, "
		"sgxs-load) read it.  Its SHA-256 is IMAGE's MRENCLAVE.  Unmeasured pages "
		"whose contents are not zero go as UNMEASRD records, so loading the "
		"stream adds the same pages.  An SGXS IMAGE is written again in this "
		"canonical form.",
	.opts = sgxs_opts,
	.exit_ok = "The stream was written.",
	.exit_fail = NULL,
	.examples = " sgxemu sgxs -o enclave.sgxs enclave.elf\n"
		    " sgxs-info summary enclave.sgxs",
};

int cmd_sgxs(int argc, char **argv)
{
	struct tool_getopt g = { .cmd = "sgxs", .opts = sgxs_opts };
	struct tool_output o = { .cmd = "sgxs", .mode = 0644, .nr_inputs = 1 };
	struct tool_image im;
	struct sgx_layout layout;
	const char *out = NULL, *image;
	uint8_t mrenclave[32], *buf = NULL;
	char hex[65];
	bool json = false;
	size_t len = 0;
	int c, ret;

	tool_image_defaults(&im);
	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		ret = tool_image_option("sgxs", c, optarg, &im);
		if (ret < 0)
			return -ret;
		if (ret)
			continue;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_FORCE:
			o.force = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			tool_help(&sgxs_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return argc == optind ? tool_usage("sgxs", "no IMAGE") :
		       tool_usage("sgxs", "more than one IMAGE: '%s' after '%s'", argv[optind + 1],
				  argv[optind]);
	if (!out)
		return tool_usage("sgxs", "no output file (-o OUT.sgxs)");
	image = argv[optind];
	o.inputs = &image;
	ret = tool_check_output(&o, out);
	if (ret)
		return ret;
	ret = tool_load_image("sgxs", image, &im, &layout);
	if (ret)
		return ret;
	ret = tool_measure("sgxs", &layout, mrenclave);
	if (ret)
		goto out_layout;
	ret = sgx_layout_to_sgxs(&layout, &buf, &len);
	if (ret) {
		ret = tool_error("sgxs", "%s: cannot write the stream: %s", image, strerror(-ret));
		goto out_layout;
	}
	ret = tool_write_output(&o, out, buf, len);
	if (ret)
		goto out_buf;
	hex_string(mrenclave, 32, hex);
	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "sgxs", out);
		json_string(&j, "image", image);
		json_string(&j, "mrenclave", hex);
		json_u64(&j, "bytes", len);
		json_u64(&j, "pages", layout.nr_pages);
		json_end_object(&j);
		json_finish(&j);
	} else {
		printf("MRENCLAVE %s\nwrote %s (%zu bytes)\n", hex, out, len);
	}
out_buf:
	free(buf);
out_layout:
	sgx_layout_free(&layout);
	return ret;
}
