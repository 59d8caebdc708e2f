/*
 * cmd_sign.c: the identity subcommands: keygen, measure, sign and show.
 *
 * They wrap src/sign (layouts, MRENCLAVE, keys, SIGSTRUCT) and the
 * processor's own SIGSTRUCT checks (sgx_sigstruct_check() in cpu.h), and
 * print either text for people or one JSON object (--json).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "sgxemu/cpu.h"
#include "tools/json.h"
#include "tools/tools.h"

enum { OPT_JSON = 256, OPT_ATTR, OPT_XFRM, OPT_ATTR_MASK, OPT_XFRM_MASK,
       OPT_MISC, OPT_MISC_MASK, OPT_PRODID, OPT_SVN, OPT_DATE, OPT_VENDOR, OPT_DEBUG,
       OPT_KEY, OPT_FORCE, OPT_SWDEFINED, OPT_FAMILY, OPT_EXTPROD, OPT_GENDATA, OPT_SIGNATURE,
       OPT_PUBKEY, OPT_MRENCLAVE, OPT_SUMMARY };

/* --- keygen ------------------------------------------------------------- */

static const struct tool_opt keygen_opts[] = {
	{ .name = "output", .short_name = 'o', .val = 'o', .arg = "FILE",
	  .doc = "Where to write the key, as a PEM private key of mode 0600 (less "
		 "the umask).  FILE must not exist: a key is never replaced, not even "
		 "with --force, and a FIFO, directory or device is refused without "
		 "being opened.",
	  .def_kind = TOOL_DEF_NONE, .def_text = "required." },
	TOOL_JSON_OPTION(OPT_JSON, "{key, bits, exponent, mrsigner}"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc keygen_doc = {
	.name = "keygen",
	.synopsis = "sgxemu keygen [--json] -o KEY.pem",
	.description =
		"Generates an enclave signing key: RSA-3072 with public exponent 3, the "
		"only kind a SIGSTRUCT can carry, and prints its MRSIGNER (the SHA-256 of "
		"its modulus, little-endian, as EINIT computes it).  The key is written "
		"through a temporary file in FILE's directory and renamed into place, so "
		"FILE is whole or absent.",
	.opts = keygen_opts,
	.exit_ok = "The key was written.",
	.exit_fail = "The key could not be generated or encoded.",
	.examples = " sgxemu keygen -o key.pem\n sgxemu sign --key key.pem -o enclave.sig enclave.elf",
};

/* The key as PEM text in memory, then written as any output is (a new
 * regular file, whole or not at all); the text is wiped after. */
static int keygen_write(const struct tool_output *o, const char *out, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	int ret;

	if (!bio)
		return tool_fail("keygen", "out of memory");
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		ERR_clear_error();
		BIO_free(bio);
		return tool_fail("keygen", "cannot encode the key as PEM");
	}
	len = BIO_get_mem_data(bio, &pem);
	ret = tool_write_output(o, out, pem, len);
	OPENSSL_cleanse(pem, len);
	BIO_free(bio);
	return ret;
}

int cmd_keygen(int argc, char **argv)
{
	/* A key is never replaced, with or without --force. */
	struct tool_output o = { .cmd = "keygen", .mode = 0600 };
	const char *out = NULL;
	uint8_t mrsigner[32];
	char hex[65];
	bool json = false;
	EVP_PKEY *key = NULL;
	int c, ret;

	struct tool_getopt g = { .cmd = "keygen", .opts = keygen_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			tool_help(&keygen_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("keygen", "unexpected argument '%s'", argv[optind]);
	if (!out)
		return tool_usage("keygen", "no output file (-o KEY.pem)");
	/* Checked first so a refusal takes no key generation; the write
	 * checks again and never replaces a file that appeared meanwhile. */
	ret = tool_check_output(&o, out);
	if (ret)
		return ret;

	ret = sgx_key_generate(&key);
	if (ret)
		return tool_fail("keygen", "key generation failed: %s", strerror(-ret));
	ret = keygen_write(&o, out, key);
	if (ret) {
		EVP_PKEY_free(key);
		return ret;
	}
	ret = sgx_key_mrsigner(key, mrsigner);
	EVP_PKEY_free(key);
	if (ret)
		return tool_fail("keygen", "cannot read the new key's modulus");
	hex_string(mrsigner, 32, hex);
	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "key", out);
		json_u64(&j, "bits", 3072);
		json_u64(&j, "exponent", 3);
		json_string(&j, "mrsigner", hex);
		json_end_object(&j);
		json_finish(&j);
	} else {
		printf("wrote %s (RSA-3072, e = 3)\nMRSIGNER %s\n", out, hex);
	}
	return EXIT_OK;
}

/* --- measure ------------------------------------------------------------ */

static const struct tool_opt measure_opts[] = {
	TOOL_IMAGE_OPTIONS,
	TOOL_JSON_OPTION(OPT_JSON, "{image, mrenclave, size, pages, measured_pages, "
				   "ssa_frame_size}"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc measure_doc = {
	.name = "measure",
	.synopsis = "sgxemu measure [--json] [--heap N] [--ssa-frame-size N]\n"
		    "               [--max-memory SIZE] IMAGE",
	.description =
		"Prints the MRENCLAVE that building IMAGE produces, as 64 hex digits: the "
		"SHA-256 over ECREATE, then EADD of every page and EEXTEND of every "
		"measured 256-byte chunk, in build order, as the processor computes it.\n"
		"\n"
		"IMAGE is an enclave ELF (its PT_LOAD segments, page by page, with a TCS "
		"and SSA frames; see README) or an SGXS stream (the records themselves), "
		"told apart by content.  '-' or /dev/fd/N reads it from a pipe.",
	.opts = measure_opts,
	.exit_ok = "MRENCLAVE was printed.",
	.exit_fail = NULL,
	.examples = " sgxemu measure enclave.elf\n sgxemu measure --heap 16 --json enclave.elf\n"
		    " cat enclave.sgxs | sgxemu measure -",
};

int cmd_measure(int argc, char **argv)
{
	struct tool_image im;
	struct sgx_layout layout;
	uint8_t mrenclave[32];
	char hex[65];
	bool json = false;
	int c, ret;

	tool_image_defaults(&im);
	struct tool_getopt g = { .cmd = "measure", .opts = measure_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		ret = tool_image_option("measure", c, optarg, &im);
		if (ret < 0)
			return -ret;
		if (ret)
			continue;
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			tool_help(&measure_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return argc == optind ? tool_usage("measure", "no IMAGE") :
		       tool_usage("measure", "more than one IMAGE: '%s' after '%s'", argv[optind + 1],
				  argv[optind]);
	ret = tool_load_image("measure", argv[optind], &im, &layout);
	if (ret)
		return ret;
	ret = tool_measure("measure", &layout, mrenclave);
	if (ret) {
		sgx_layout_free(&layout);
		return ret;
	}
	hex_string(mrenclave, 32, hex);
	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "image", argv[optind]);
		json_string(&j, "mrenclave", hex);
		json_u64(&j, "size", layout.size);
		json_u64(&j, "pages", layout.nr_pages);
		json_u64(&j, "measured_pages", layout_measured_pages(&layout));
		json_u64(&j, "ssa_frame_size", layout.ssa_frame_size);
		json_end_object(&j);
		json_finish(&j);
	} else {
		printf("%s\n", hex);
	}
	sgx_layout_free(&layout);
	return EXIT_OK;
}

/* --- sign --------------------------------------------------------------- */

static const struct tool_opt sign_opts[] = {
	{ .name = "key", .short_name = 'k', .val = 'k', .arg = "KEY.pem",
	  .doc = "The signing key: a PEM RSA-3072 private key with exponent 3 "
		 "(sgxemu keygen makes one; sgx_sign's and gramine's keys are such "
		 "keys).",
	  .def_text = "required, unless --gendata or --signature with --public-key." },
	{ .name = "output", .short_name = 'o', .val = 'o', .arg = "FILE",
	  .doc = "Where to write the SIGSTRUCT (1808 bytes), or with --gendata the "
		 "data to sign.  FILE must be new (or --force), a regular file, and "
		 "none of the command's inputs (the key, the image, the signature); it "
		 "is written through a temporary file and renamed into place.",
	  .def_text = "required." },
	{ .name = "force", .val = OPT_FORCE,
	  .doc = "Replace FILE if it exists (never an input, nor a FIFO or device)." },
	{ .name = "mrenclave", .val = OPT_MRENCLAVE, .arg = "HEX",
	  .doc = "Sign this MRENCLAVE (64 hex digits, an optional 0x, in the order "
		 "show prints it) instead of measuring an IMAGE, like sgxs-sign "
		 "--in-hash: for enclaves whose loader lays out pages this command "
		 "does not (the SGX SDK's, Gramine's).",
	  .def_text = "the MRENCLAVE measured from IMAGE." },
	{ .name = "attributes", .val = OPT_ATTR, .arg = "X",
	  .doc = "SECS.ATTRIBUTES the enclave runs with: a number, or names joined "
		 "with ',' or '|' (MODE64BIT, DEBUG, PROVISIONKEY, EINITTOKENKEY, KSS, "
		 "AEXNOTIFY; any case).  INIT and reserved bits are refused.",
	  .def_kind = TOOL_DEF_HEX, .def = TOOL_SIGN_ATTRIBUTES,
	  .def_text = "(MODE64BIT: a production 64-bit enclave); --debug adds DEBUG (0x2)." },
	{ .name = "attributes-mask", .val = OPT_ATTR_MASK, .arg = "X",
	  .doc = "The attribute bits EINIT compares between the SECS and the "
		 "SIGSTRUCT, by number or names; a bit clear here may differ.  Unlike "
		 "sgxs-sign's inverted form, a set bit is compared.",
	  .def_kind = TOOL_DEF_HEX, .def = TOOL_SIGN_ATTRIBUTES_MASK,
	  .def_text = "(every bit compared: a production signature never launches a "
		      "debug enclave, nor the other way round)." },
	{ .name = "debug", .val = OPT_DEBUG,
	  .doc = "Sign a debug enclave: DEBUG (0x2) is added to the attributes." },
	{ .name = "xfrm", .val = OPT_XFRM, .arg = "X",
	  .doc = "SECS.ATTRIBUTES.XFRM, the XSAVE features the enclave runs with; x87 "
		 "and SSE (0x3) must be in it.",
	  .def_kind = TOOL_DEF_HEX, .def = TOOL_SIGN_XFRM, .def_text = "(x87 and SSE)." },
	{ .name = "xfrm-mask", .val = OPT_XFRM_MASK, .arg = "X",
	  .doc = "The XFRM bits EINIT compares.",
	  .def_kind = TOOL_DEF_TEXT,
	  .def_text = "the --xfrm value (0x3 when neither is given): the signed "
		      "features are required and further ones may be enabled by the "
		      "loader." },
	{ .name = "miscselect", .val = OPT_MISC, .arg = "X",
	  .doc = "SECS.MISCSELECT: what an SSA frame saves beyond the GPRs (bit 0 "
		 "EXINFO); reserved bits are refused.",
	  .def_kind = TOOL_DEF_HEX, .def = 0 },
	{ .name = "misc-mask", .val = OPT_MISC_MASK, .arg = "X",
	  .doc = "The MISCSELECT bits EINIT compares.",
	  .def_kind = TOOL_DEF_HEX, .def = TOOL_SIGN_MISC_MASK, .def_text = "(every bit)." },
	{ .name = "isvprodid", .val = OPT_PRODID, .arg = "N",
	  .doc = "ISVPRODID, the product ID, 0..65535.",
	  .def_kind = TOOL_DEF_DEC, .def = 0 },
	{ .name = "isvsvn", .val = OPT_SVN, .arg = "N",
	  .doc = "ISVSVN, the security version, 0..65535.",
	  .def_kind = TOOL_DEF_DEC, .def = 0 },
	{ .name = "date", .val = OPT_DATE, .arg = "D",
	  .doc = "DATE: a day YYYYMMDD (stored as BCD 0xYYYYMMDD, as sgx_sign "
		 "stores it), 'today' (UTC), or the field's raw 32-bit value as 0x... "
		 "or 0 (0 for reproducible builds; a raw value reproduces a SIGSTRUCT "
		 "whose date is not BCD, such as Gramine's).",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "today (UTC)." },
	{ .name = "vendor", .val = OPT_VENDOR, .arg = "V",
	  .doc = "VENDOR: 0, or 0x8086 for an Intel enclave.",
	  .def_kind = TOOL_DEF_HEX, .def = 0 },
	{ .name = "swdefined", .val = OPT_SWDEFINED, .arg = "N",
	  .doc = "SWDEFINED, the 32-bit word at bytes 40..43 that EINIT does not "
		 "read (sgx_sign's HW).",
	  .def_kind = TOOL_DEF_HEX, .def = 0 },
	{ .name = "isvfamilyid", .val = OPT_FAMILY, .arg = "HEX",
	  .doc = "ISVFAMILYID (KSS), 32 hex digits (16 bytes in memory order, as "
		 "show prints them).  EINIT refuses a non-zero one unless the "
		 "attributes have KSS.",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "00000000000000000000000000000000." },
	{ .name = "isvextprodid", .val = OPT_EXTPROD, .arg = "HEX",
	  .doc = "ISVEXTPRODID (KSS), 32 hex digits in memory order.",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "00000000000000000000000000000000." },
	{ .name = "gendata", .val = OPT_GENDATA,
	  .doc = "Write the 256 bytes to sign (SIGSTRUCT bytes 0..127 and 900..1027, "
		 "as sgx_sign gendata does) instead of a SIGSTRUCT; takes no key." },
	{ .name = "signature", .val = OPT_SIGNATURE, .arg = "SIG",
	  .doc = "A signature of that data made elsewhere: 384 bytes, big-endian, "
		 "PKCS#1 v1.5 over SHA-256 (openssl dgst -sha256 -sign KEY.pem).  With "
		 "--public-key and the same fields, sign assembles the SIGSTRUCT (Q1, "
		 "Q2) and verifies it before writing, like sgx_sign catsig.",
	  .def_text = "only with --public-key." },
	{ .name = "public-key", .val = OPT_PUBKEY, .arg = "PUB.pem",
	  .doc = "The key that made --signature: a PEM RSA-3072 public key (or a "
		 "private key: its public half) with exponent 3.",
	  .def_text = "only with --signature." },
	TOOL_IMAGE_OPTIONS,
	TOOL_JSON_OPTION(OPT_JSON, "the output's path, MRENCLAVE, MRSIGNER and every "
				   "signed field"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc sign_doc = {
	.name = "sign",
	.synopsis = "sgxemu sign --key KEY.pem [OPTIONS] -o SIGSTRUCT IMAGE\n"
		    "sgxemu sign --gendata [OPTIONS] -o DATA IMAGE\n"
		    "sgxemu sign --signature SIG --public-key PUB.pem [OPTIONS] -o SIGSTRUCT\n"
		    "            IMAGE\n"
		    "(--mrenclave HEX in place of IMAGE in each)",
	.description =
		"Measures IMAGE (an enclave ELF or an SGXS stream, or '-' for a pipe) "
		"and writes its SIGSTRUCT: the fields below, the MRENCLAVE, the key's "
		"modulus and exponent, the RSA-3072 signature over bytes 0..127 and "
		"900..1027, and Q1 and Q2, the values EINIT's check uses.  The "
		"SIGSTRUCT is checked as EINIT checks it before it is written.\n"
		"\n"
		"Every field is set by an option and each has a default; the same key, "
		"MRENCLAVE and fields give the same bytes (PKCS#1 v1.5 signatures are "
		"deterministic), so a SIGSTRUCT another tool made is reproduced by "
		"passing the fields sgxemu show prints of it.  The README's section "
		"\"Coming from sgx_sign / sgxs-sign / gramine-sgx-sign\" maps their "
		"settings onto these options.\n"
		"\n"
		"Offline signing, when the key lives elsewhere (an HSM): --gendata "
		"writes the data to sign; sign it there, e.g.\n"
		"  openssl dgst -sha256 -sign KEY.pem -out SIG DATA\n"
		"then run sign again with --signature SIG --public-key PUB.pem and the "
		"same fields (the same --date, which defaults to the day it runs).",
	.opts = sign_opts,
	.exit_ok = "The SIGSTRUCT (or the data to sign) was written.",
	.exit_fail = "Signing failed, or a --signature does not verify with "
		     "--public-key over these fields and MRENCLAVE; nothing was written.",
	.examples = " sgxemu sign --key key.pem --isvprodid 1 --isvsvn 2 -o enclave.sig \\\n"
		    "             enclave.elf\n"
		    " sgxemu sign --key key.pem --date 0 --attributes MODE64BIT,DEBUG \\\n"
		    "             --mrenclave \"$(sgxemu measure enclave.elf)\" -o enclave.sig\n"
		    " sgxemu sign --gendata --date 20260101 -o data.bin enclave.elf\n"
		    " openssl dgst -sha256 -sign key.pem -out sig.bin data.bin\n"
		    " sgxemu sign --signature sig.bin --public-key pub.pem --date 20260101 \\\n"
		    "             -o enclave.sig enclave.elf",
};

static int sign_number(const char *opt, uint64_t max, uint64_t *out)
{
	if (parse_u64(optarg, max, out))
		return tool_usage("sign", "%s: '%s' is not a number in 0..%#llx", opt, optarg,
				  (unsigned long long)max);
	return 0;
}

/* What sign was asked to do. */
struct sign_args {
	const char *keypath;
	const char *out;
	const char *image;
	struct sgx_sign_params p;
	struct tool_image im;
	bool json;
	bool force;
	/* Offline signing: --gendata, or --signature with --public-key. */
	bool gendata;
	const char *sigpath, *pubpath;
	/* --mrenclave instead of an image. */
	bool have_mrenclave;
	uint8_t mrenclave[32];
};

/* Reads the options into a, defaults filled in and the parameters
 * checked.  0 to go on, -1 after --help, or an exit code after a
 * message. */
static int sign_parse(int argc, char **argv, struct sign_args *a)
{
	struct sgx_sign_params *p = &a->p;
	bool debug = false, have_xfrm_mask = false;
	uint64_t v;
	int c, ret;

	memset(a, 0, sizeof(*a));
	tool_sign_defaults(p);
	tool_image_defaults(&a->im);
	struct tool_getopt g = { .cmd = "sign", .opts = sign_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		ret = tool_image_option("sign", c, optarg, &a->im);
		if (ret < 0)
			return -ret;
		if (ret)
			continue;
		switch (c) {
		case 'k':
			a->keypath = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case OPT_ATTR:
			if (parse_attributes(optarg, &p->attributes))
				return tool_usage("sign", "--attributes: '%s' is not a number or names (MODE64BIT,DEBUG,PROVISIONKEY,EINITTOKENKEY,KSS)",
						  optarg);
			break;
		case OPT_XFRM:
			if (sign_number("--xfrm", UINT64_MAX, &p->xfrm))
				return EXIT_USAGE;
			break;
		case OPT_ATTR_MASK:
			if (parse_attributes(optarg, &p->attributes_mask))
				return tool_usage("sign", "--attributes-mask: '%s' is not a number or attribute names",
						  optarg);
			break;
		case OPT_XFRM_MASK:
			if (sign_number("--xfrm-mask", UINT64_MAX, &p->xfrm_mask))
				return EXIT_USAGE;
			have_xfrm_mask = true;
			break;
		case OPT_MISC:
			if (sign_number("--miscselect", UINT32_MAX, &v))
				return EXIT_USAGE;
			p->miscselect = v;
			break;
		case OPT_MISC_MASK:
			if (sign_number("--misc-mask", UINT32_MAX, &v))
				return EXIT_USAGE;
			p->misc_mask = v;
			break;
		case OPT_PRODID:
			if (sign_number("--isvprodid", UINT16_MAX, &v))
				return EXIT_USAGE;
			p->isvprodid = v;
			break;
		case OPT_SVN:
			if (sign_number("--isvsvn", UINT16_MAX, &v))
				return EXIT_USAGE;
			p->isvsvn = v;
			break;
		case OPT_DATE:
			if (parse_date_option(optarg, &p->date))
				return tool_usage("sign", "--date: '%s' is not a date YYYYMMDD, 'today', or a raw value 0x... (or 0)",
						  optarg);
			break;
		case OPT_SWDEFINED:
			if (sign_number("--swdefined", UINT32_MAX, &v))
				return EXIT_USAGE;
			p->swdefined = v;
			break;
		case OPT_FAMILY:
			if (parse_hex_bytes(optarg, p->isvfamilyid, sizeof(p->isvfamilyid)))
				return tool_usage("sign", "--isvfamilyid: '%s' is not 32 hex digits (16 bytes)",
						  optarg);
			break;
		case OPT_EXTPROD:
			if (parse_hex_bytes(optarg, p->isvextprodid, sizeof(p->isvextprodid)))
				return tool_usage("sign", "--isvextprodid: '%s' is not 32 hex digits (16 bytes)",
						  optarg);
			break;
		case OPT_VENDOR:
			if (parse_u64(optarg, UINT32_MAX, &v) ||
			    (v != 0 && v != SGX_SIGSTRUCT_VENDOR_INTEL))
				return tool_usage("sign", "--vendor: '%s' is not 0 or 0x8086", optarg);
			p->vendor = v;
			break;
		case OPT_DEBUG:
			debug = true;
			break;
		case OPT_FORCE:
			a->force = true;
			break;
		case OPT_GENDATA:
			a->gendata = true;
			break;
		case OPT_SIGNATURE:
			a->sigpath = optarg;
			break;
		case OPT_PUBKEY:
			a->pubpath = optarg;
			break;
		case OPT_MRENCLAVE:
			if (parse_hex_bytes(optarg, a->mrenclave, sizeof(a->mrenclave)))
				return tool_usage("sign", "--mrenclave: '%s' is not 64 hex digits", optarg);
			a->have_mrenclave = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case 'h':
			tool_help(&sign_doc);
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (a->have_mrenclave) {
		if (argc != optind)
			return tool_usage("sign", "--mrenclave takes the place of IMAGE; got '%s' too",
					  argv[optind]);
		if (a->im.heap_set || a->im.ssa_set)
			return tool_usage("sign", "%s applies to an IMAGE, not to --mrenclave",
					  a->im.heap_set ? "--heap" : "--ssa-frame-size");
	} else {
		if (argc == optind)
			return tool_usage("sign", "no IMAGE (or --mrenclave HEX)");
		if (argc - optind != 1)
			return tool_usage("sign", "more than one IMAGE: '%s' after '%s'",
					  argv[optind + 1], argv[optind]);
		a->image = argv[optind];
	}
	if (a->image && a->sigpath && tool_is_stream(a->image) && tool_is_stream(a->sigpath))
		return tool_usage("sign", "one input at a time from a pipe: IMAGE '%s' and --signature '%s' are both streams",
				  a->image, a->sigpath);
	if (a->gendata && (a->keypath || a->sigpath || a->pubpath))
		return tool_usage("sign", "--gendata writes the data to sign: it takes no %s",
				  a->keypath ? "--key" : a->sigpath ? "--signature" : "--public-key");
	if (!a->sigpath != !a->pubpath)
		return tool_usage("sign", "%s needs %s", a->sigpath ? "--signature" : "--public-key",
				  a->sigpath ? "--public-key PUB.pem" : "--signature SIG");
	if (a->sigpath && a->keypath)
		return tool_usage("sign", "--key or --signature with --public-key, not both");
	if (!a->keypath && !a->sigpath && !a->gendata)
		return tool_usage("sign", "no signing key (--key KEY.pem, or --gendata, or --signature SIG --public-key PUB.pem)");
	if (!a->out)
		return tool_usage("sign", a->gendata ? "no output file (-o DATA)" : "no output file (-o SIGSTRUCT)");

	if (debug)
		p->attributes |= SGX_ATTR_DEBUG;
	if (!have_xfrm_mask)
		p->xfrm_mask = p->xfrm;
	if (p->attributes & SGX_ATTR_INIT)
		return tool_usage("sign", "--attributes %#llx: INIT (bit 0) is set by EINIT, not signed",
				  (unsigned long long)p->attributes);
	if (p->attributes & SGX_ATTR_RESERVED_MASK)
		return tool_usage("sign", "--attributes %#llx sets reserved bits %#llx",
				  (unsigned long long)p->attributes,
				  (unsigned long long)(p->attributes & SGX_ATTR_RESERVED_MASK));
	if ((p->xfrm & SGX_XFRM_LEGACY) != SGX_XFRM_LEGACY)
		return tool_usage("sign", "--xfrm %#llx: x87 and SSE (0x3) are mandatory",
				  (unsigned long long)p->xfrm);
	if (p->miscselect & SGX_MISC_RESERVED_MASK)
		return tool_usage("sign", "--miscselect %#x sets reserved bits", p->miscselect);
	return 0;
}

static void sign_print(const struct sign_args *a, const struct sgx_layout *layout,
		       const uint8_t mrenclave[32], const uint8_t mrsigner[32])
{
	const struct sgx_sign_params *p = &a->p;
	char hex[65];

	if (a->json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, a->gendata ? "data" : "sigstruct", a->out);
		json_string(&j, "image", a->image);
		hex_string(mrenclave, 32, hex);
		json_string(&j, "mrenclave", hex);
		hex_string(mrsigner, 32, hex);
		if (a->gendata)
			json_null(&j, "mrsigner");
		else
			json_string(&j, "mrsigner", hex);
		json_hex_u64(&j, "vendor", p->vendor);
		json_hex_u64(&j, "date", p->date);
		json_hex_u64(&j, "attributes", p->attributes);
		json_hex_u64(&j, "attributes_mask", p->attributes_mask);
		json_hex_u64(&j, "xfrm", p->xfrm);
		json_hex_u64(&j, "xfrm_mask", p->xfrm_mask);
		json_hex_u64(&j, "miscselect", p->miscselect);
		json_hex_u64(&j, "misc_mask", p->misc_mask);
		json_u64(&j, "isvprodid", p->isvprodid);
		json_u64(&j, "isvsvn", p->isvsvn);
		json_hex_u64(&j, "swdefined", p->swdefined);
		json_hex(&j, "isvfamilyid", p->isvfamilyid, 16);
		json_hex(&j, "isvextprodid", p->isvextprodid, 16);
		if (layout) {
			json_u64(&j, "size", layout->size);
			json_u64(&j, "pages", layout->nr_pages);
		}
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	hex_string(mrenclave, 32, hex);
	printf("MRENCLAVE %s\n", hex);
	if (a->gendata) {
		printf("wrote %s (%d bytes to sign: SIGSTRUCT bytes 0..127 and 900..1027)\n",
		       a->out, SGX_SIGNED_DATA_SIZE);
		return;
	}
	hex_string(mrsigner, 32, hex);
	printf("MRSIGNER  %s\n", hex);
	printf("wrote %s (%zu bytes)\n", a->out, sizeof(struct sgx_sigstruct));
}

/* The signature file of the offline flow: exactly 384 bytes, as
 * `openssl dgst -sha256 -sign` writes one for an RSA-3072 key. */
static int read_signature(const char *path, uint8_t sig[SGX_MODULUS_SIZE])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = tool_read_input("sign", path, 1 << 20, &buf, &len);

	if (ret == -EFBIG)
		return tool_error("sign", "%s: not a signature (larger than 1 MiB; an RSA-3072 signature is %d bytes)",
				  path, SGX_MODULUS_SIZE);
	if (ret)
		return -ret;
	if (len != SGX_MODULUS_SIZE) {
		free(buf);
		return tool_error("sign", "%s: %zu bytes; an RSA-3072 signature is %d (openssl dgst -sha256 -sign KEY.pem -out SIG DATA)",
				  path, len, SGX_MODULUS_SIZE);
	}
	memcpy(sig, buf, SGX_MODULUS_SIZE);
	free(buf);
	return 0;
}

/* An RSA-3072, e = 3 public key (or a private key: its public half). */
static int load_public_key(const char *path, EVP_PKEY **key)
{
	char err[256] = "";
	uint8_t *buf = NULL;
	size_t len = 0;
	BIGNUM *e = NULL;
	BIO *bio;
	int ret = sgx_read_file(path, 1 << 20, &buf, &len, err, sizeof(err));

	if (ret)
		return tool_path_error("sign", path, err[0] ? err : strerror(-ret));
	bio = BIO_new_mem_buf(buf, len);
	*key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	if (!*key && bio) {
		BIO_free(bio);
		bio = BIO_new_mem_buf(buf, len);
		*key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	}
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	free(buf);
	ERR_clear_error();
	if (!*key)
		return tool_error("sign", "%s: not a PEM public key", path);
	if (!EVP_PKEY_is_a(*key, "RSA") || EVP_PKEY_get_bits(*key) != 3072 ||
	    !EVP_PKEY_get_bn_param(*key, OSSL_PKEY_PARAM_RSA_E, &e) || !BN_is_word(e, 3)) {
		ret = tool_error("sign", "%s: a %s key of %d bits%s; enclave keys are RSA-3072 with exponent 3",
				 path, EVP_PKEY_get0_type_name(*key) ?: "?", EVP_PKEY_get_bits(*key),
				 e && !BN_is_word(e, 3) ? ", exponent not 3" : "");
		ERR_clear_error();
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	BN_free(e);
	return ret;
}

/* Makes a.out's bytes: the SIGSTRUCT signed with --key, assembled from
 * --signature and --public-key, or (--gendata) the 256 bytes to sign. */
static int sign_make(const struct sign_args *a, const uint8_t mrenclave[32],
		     struct sgx_sigstruct *ss, uint8_t data[SGX_SIGNED_DATA_SIZE])
{
	uint8_t sig[SGX_MODULUS_SIZE];
	char err[256] = "";
	EVP_PKEY *key = NULL;
	int ret;

	if (a->gendata) {
		sgx_sigstruct_prepare(&a->p, mrenclave, ss);
		sgx_sigstruct_signed_data(ss, data);
		return 0;
	}
	if (a->keypath) {
		ret = sgx_key_load(a->keypath, &key, err, sizeof(err));
		if (ret)
			return tool_path_error("sign", a->keypath, err[0] ? err : strerror(-ret));
		ret = sgx_sigstruct_sign(key, &a->p, mrenclave, ss);
		EVP_PKEY_free(key);
		if (ret)
			return tool_fail("sign", "signing failed: %s", strerror(-ret));
		return 0;
	}
	ret = read_signature(a->sigpath, sig);
	if (ret)
		return ret;
	ret = load_public_key(a->pubpath, &key);
	if (ret)
		return ret;
	sgx_sigstruct_prepare(&a->p, mrenclave, ss);
	ret = sgx_sigstruct_assemble(ss, key, sig);
	EVP_PKEY_free(key);
	if (ret == -EBADMSG)
		return tool_fail("sign", "%s does not verify over these fields and MRENCLAVE with %s; nothing written",
				 a->sigpath, a->pubpath);
	if (ret)
		return tool_error("sign", "cannot assemble the SIGSTRUCT: %s", strerror(-ret));
	/* What EINIT would say, before the file exists. */
	ret = sgx_sigstruct_check(ss, NULL);
	if (ret)
		return tool_fail("sign", "the assembled SIGSTRUCT fails EINIT's checks: %s",
				 sgx_error_name(ret));
	return 0;
}

/* Phases: the options, the output's checks, the MRENCLAVE (measured or
 * given), the bytes made, the file written, the report. */
int cmd_sign(int argc, char **argv)
{
	struct sign_args a;
	struct tool_output o = { .cmd = "sign", .mode = 0644, .nr_inputs = 4 };
	const char *inputs[4];
	struct sgx_sigstruct ss;
	struct sgx_layout layout = { 0 };
	uint8_t mrenclave[32], mrsigner[32], data[SGX_SIGNED_DATA_SIZE];
	int ret;

	ret = sign_parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	inputs[0] = a.keypath;
	inputs[1] = a.image;
	inputs[2] = a.sigpath;
	inputs[3] = a.pubpath;
	o.inputs = inputs;
	o.force = a.force;
	ret = tool_check_output(&o, a.out);
	if (ret)
		return ret;
	if (a.have_mrenclave) {
		memcpy(mrenclave, a.mrenclave, sizeof(mrenclave));
	} else {
		ret = tool_load_image("sign", a.image, &a.im, &layout);
		if (ret)
			return ret;
		ret = tool_measure("sign", &layout, mrenclave);
		if (ret)
			goto out_layout;
	}
	ret = sign_make(&a, mrenclave, &ss, data);
	if (ret)
		goto out_layout;
	if (a.gendata)
		ret = tool_write_output(&o, a.out, data, sizeof(data));
	else
		ret = tool_write_output(&o, a.out, &ss, sizeof(ss));
	if (ret)
		goto out_layout;
	sgx_sigstruct_mrsigner(&ss, mrsigner);
	sign_print(&a, a.have_mrenclave ? NULL : &layout, mrenclave, mrsigner);
	ret = EXIT_OK;
out_layout:
	sgx_layout_free(&layout);
	return ret;
}

/* --- show --------------------------------------------------------------- */

static const struct tool_opt show_opts[] = {
	{ .name = "summary", .val = OPT_SUMMARY,
	  .doc = "IMAGE: ranges of like pages (same type, permissions and "
		 "measurement), not each page, like sgxs-info summary." },
	TOOL_IMAGE_OPTIONS,
	TOOL_JSON_OPTION(OPT_JSON, "of a SIGSTRUCT every field, MRSIGNER, "
				   "\"verified\" and \"problems\"; of an IMAGE its pages or "
				   "ranges"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc show_doc = {
	.name = "show",
	.synopsis = "sgxemu show [--json] SIGSTRUCT\n"
		    "sgxemu show [--json] [--summary] [--heap N] [--ssa-frame-size N]\n"
		    "            [--max-memory SIZE] IMAGE",
	.description =
		"Of a SIGSTRUCT (a file of 1808 bytes): prints every field (vendor, the "
		"date, also as a date, SWDEFINED, MISCSELECT and its mask, the "
		"attributes by number and name and their mask, XFRM and its mask, "
		"ISVPRODID, ISVSVN, MRENCLAVE, ISVFAMILYID, ISVEXTPRODID) and MRSIGNER, "
		"then checks it as EINIT does: the header words, the vendor, the "
		"exponent, each reserved range, Q1 and Q2, the RSA-3072 signature.  "
		"Every rule it breaks is named on standard error and, with --json, in "
		"\"problems\", which is empty exactly when the processor accepts it.\n"
		"\n"
		"Of an IMAGE (an enclave ELF or an SGXS stream, told apart by content): "
		"the pages the build adds, in order, each with its offset, type, "
		"permissions, whether EEXTEND measures it (or which 256-byte chunks) "
		"and the SHA-256 of its contents, like sgxs-info list-pages.\n"
		"\n"
		"The image options apply to an IMAGE only and are refused with a "
		"SIGSTRUCT.",
	.opts = show_opts,
	.exit_ok = "The SIGSTRUCT verifies (signature and every structural rule), or "
		   "the IMAGE's pages were listed.",
	.exit_fail = "The SIGSTRUCT does not verify; its fields are still printed.",
	.examples = " sgxemu show enclave.sig\n sgxemu show --json enclave.sig\n"
		    " sgxemu show --summary enclave.elf",
};

/* The date as YYYY-MM-DD when it is one in BCD, else "not a date". */
static void date_string(uint32_t bcd, char *out, size_t outlen)
{
	char digits[16];
	uint32_t v;

	snprintf(digits, sizeof(digits), "%08x", bcd);
	if (parse_date_bcd(digits, &v))
		snprintf(out, outlen, "not a date");
	else
		snprintf(out, outlen, "%.4s-%.2s-%.2s", digits, digits + 4, digits + 6);
}

int cmd_show(int argc, char **argv)
{
	struct tool_image im;
	bool summary = false;
	const struct sgx_sigstruct_body *b;
	struct sgx_sigstruct ss;
	uint8_t mrsigner[32];
	char hex[65], attrs[128], date[16];
	struct sig_problems problems;
	bool json = false;
	int c, ret, check;

	struct tool_getopt g = { .cmd = "show", .opts = show_opts };

	tool_image_defaults(&im);
	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		ret = tool_image_option("show", c, optarg, &im);
		if (ret < 0)
			return -ret;
		if (ret)
			continue;
		switch (c) {
		case OPT_SUMMARY:
			summary = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			tool_help(&show_doc);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return argc == optind ? tool_usage("show", "no SIGSTRUCT or IMAGE") :
		       tool_usage("show", "more than one SIGSTRUCT or IMAGE: '%s' after '%s'",
				  argv[optind + 1], argv[optind]);
	if (tool_is_image(argv[optind]))
		return show_image(argv[optind], &im, summary, json);
	if (summary || im.heap_set || im.ssa_set)
		return tool_usage("show", "%s applies to an IMAGE; %s is not an ELF or SGXS stream",
				  summary ? "--summary" : im.heap_set ? "--heap" : "--ssa-frame-size",
				  argv[optind]);
	ret = tool_read_sigstruct("show", argv[optind], &ss);
	if (ret)
		return ret;
	check = sgx_sigstruct_check(&ss, mrsigner);
	sigstruct_problems(&ss, &problems);
	b = &ss.body;
	attributes_string(b->attributes, attrs, sizeof(attrs));
	date_string(ss.header.date, date, sizeof(date));

	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "sigstruct", argv[optind]);
		json_hex_u64(&j, "vendor", ss.header.vendor);
		json_hex_u64(&j, "date", ss.header.date);
		json_string(&j, "date_string", date);
		json_hex_u64(&j, "swdefined", ss.header.swdefined);
		json_u64(&j, "exponent", ss.exponent);
		json_hex_u64(&j, "miscselect", b->miscselect);
		json_hex_u64(&j, "misc_mask", b->misc_mask);
		json_hex_u64(&j, "attributes", b->attributes);
		json_string(&j, "attribute_names", attrs);
		json_hex_u64(&j, "attributes_mask", b->attributes_mask);
		json_hex_u64(&j, "xfrm", b->xfrm);
		json_hex_u64(&j, "xfrm_mask", b->xfrm_mask);
		json_u64(&j, "isvprodid", b->isvprodid);
		json_u64(&j, "isvsvn", b->isvsvn);
		json_hex(&j, "mrenclave", b->mrenclave, 32);
		json_hex(&j, "mrsigner", mrsigner, 32);
		json_hex(&j, "isvfamilyid", b->isvfamilyid, 16);
		json_hex(&j, "isvextprodid", b->isvextprodid, 16);
		json_string(&j, "signature", check ? sgx_error_name(check) : "ok");
		json_bool(&j, "verified", check == 0);
		tool_print_problems("show", argv[optind], &problems, &j);
		json_end_object(&j);
		json_finish(&j);
	} else {
		printf("vendor           0x%04x\n", ss.header.vendor);
		printf("date             0x%08x (%s)\n", ss.header.date, date);
		printf("swdefined        0x%08x\n", ss.header.swdefined);
		printf("miscselect       0x%08x\n", b->miscselect);
		printf("misc_mask        0x%08x\n", b->misc_mask);
		printf("attributes       0x%016llx (%s)\n", (unsigned long long)b->attributes, attrs);
		printf("attributes_mask  0x%016llx\n", (unsigned long long)b->attributes_mask);
		printf("xfrm             0x%016llx\n", (unsigned long long)b->xfrm);
		printf("xfrm_mask        0x%016llx\n", (unsigned long long)b->xfrm_mask);
		printf("isvprodid        %u\n", b->isvprodid);
		printf("isvsvn           %u\n", b->isvsvn);
		hex_string(b->mrenclave, 32, hex);
		printf("mrenclave        %s\n", hex);
		hex_string(mrsigner, 32, hex);
		printf("mrsigner         %s\n", hex);
		hex_string(b->isvfamilyid, 16, hex);
		printf("isvfamilyid      %s\n", hex);
		hex_string(b->isvextprodid, 16, hex);
		printf("isvextprodid     %s\n", hex);
		printf("signature: %s\n", check ? sgx_error_name(check) : "ok");
		tool_print_problems("show", argv[optind], &problems, NULL);
	}
	return check ? EXIT_CHECK_FAILED : EXIT_OK;
}
