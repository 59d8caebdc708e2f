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

static const char keygen_help[] =
	"usage: sgxemu keygen [--json] -o KEY.pem\n"
	"\n"
	"Generates an enclave signing key: RSA-3072 with public exponent 3, the\n"
	"only kind SIGSTRUCT allows, written as a PEM private key (mode 0600).\n"
	"Prints the key's MRSIGNER (SHA-256 of its modulus).\n"
	"\n"
	"  -o, --output FILE  where to write the key (a new file: a key is never\n"
	"                     replaced, and FILE is never a FIFO or device)\n"
	"      --json         print {key, bits, exponent, mrsigner}\n"
	"\n"
	"Example: sgxemu keygen -o key.pem\n";

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
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* A key is never replaced, with or without --force. */
	struct tool_output o = { .cmd = "keygen", .mode = 0600 };
	const char *out = NULL;
	uint8_t mrsigner[32];
	char hex[65];
	bool json = false;
	EVP_PKEY *key = NULL;
	int c, ret;

	struct tool_getopt g = { .cmd = "keygen", .shortopts = "o:h", .longopts = opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			fputs(keygen_help, stdout);
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

static const char measure_help[] =
	"usage: sgxemu measure [--json] [--heap N] [--ssa-frame-size N]\n"
	"                      [--max-memory SIZE] IMAGE\n"
	"\n"
	"Prints the MRENCLAVE that building IMAGE (an enclave ELF or an SGXS\n"
	"stream) produces, as 64 hex digits.\n"
	"\n"
	"      --heap N            ELF: N unmeasured heap pages after the image\n"
	"                          (they change the enclave size, so MRENCLAVE)\n"
	"      --ssa-frame-size N  ELF: pages per SSA frame (default 1)\n"
	"      --max-memory SIZE   host memory the image may take (default 1G)\n"
	"      --json              print {mrenclave, size, pages, measured_pages}\n"
	"\n"
	"Example: sgxemu measure --heap 16 enclave.elf\n";

int cmd_measure(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_IMAGE_OPTIONS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tool_image im;
	struct sgx_layout layout;
	uint8_t mrenclave[32];
	char hex[65];
	bool json = false;
	int c, ret;

	tool_image_defaults(&im);
	struct tool_getopt g = { .cmd = "measure", .shortopts = "h", .longopts = opts };

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
			fputs(measure_help, stdout);
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

static const char sign_help[] =
	"usage: sgxemu sign --key KEY.pem [OPTIONS] -o SIGSTRUCT IMAGE\n"
	"       sgxemu sign --gendata [OPTIONS] -o DATA IMAGE\n"
	"       sgxemu sign --signature SIG --public-key PUB.pem [OPTIONS] -o SIGSTRUCT IMAGE\n"
	"       (--mrenclave HEX in place of IMAGE in each)\n"
	"\n"
	"Offline signing: --gendata writes the 256 bytes to sign (SIGSTRUCT bytes\n"
	"0..127 and 900..1027); sign them elsewhere, e.g.\n"
	"  openssl dgst -sha256 -sign KEY.pem -out SIG DATA\n"
	"then --signature SIG --public-key PUB.pem with the same options\n"
	"assembles the SIGSTRUCT (Q1, Q2), verifying it before it is written.\n"
	"\n"
	"Measures IMAGE (an enclave ELF or an SGXS stream) and writes its\n"
	"SIGSTRUCT (1808 bytes), signed with KEY.pem (RSA-3072, e = 3).\n"
	"\n"
	"  -k, --key KEY.pem         signing key\n"
	"      --gendata             write the data to sign instead of a SIGSTRUCT\n"
	"      --signature SIG       a signature of that data (384 bytes, big-endian)\n"
	"      --public-key PUB.pem  the key that made it (RSA-3072, e = 3)\n"
	"      --mrenclave HEX       sign this MRENCLAVE (64 hex digits), no IMAGE\n"
	"  -o, --output FILE         where to write the SIGSTRUCT (a new file; never\n"
	"                            the key or the image, nor a FIFO or device)\n"
	"      --force               replace FILE if it exists\n"
	"      --attributes X        SECS attributes the enclave runs with, a number\n"
	"                            or names: MODE64BIT,DEBUG,PROVISIONKEY,\n"
	"                            EINITTOKENKEY,KSS (default MODE64BIT = 0x4,\n"
	"                            | DEBUG = 0x2 with --debug)\n"
	"      --xfrm X              XSAVE features (default 0x3: x87 | SSE)\n"
	"      --attributes-mask X   attribute bits EINIT compares with the SECS\n"
	"                            (default 0xffffffffffffffff: every bit must match,\n"
	"                            so a debug signature never launches a production\n"
	"                            enclave and the other way round)\n"
	"      --xfrm-mask X         XFRM bits EINIT compares (default: the signed\n"
	"                            XFRM itself: those features are required,\n"
	"                            further ones may be enabled by the loader)\n"
	"      --miscselect X        MISCSELECT (default 0)\n"
	"      --misc-mask X         MISCSELECT bits EINIT compares (default 0xffffffff)\n"
	"      --isvprodid N         product ID, 0..65535 (default 0)\n"
	"      --isvsvn N            security version, 0..65535 (default 0)\n"
	"      --date D              signing date: YYYYMMDD, today (the default, UTC),\n"
	"                            or the field's raw value 0x... or 0\n"
	"      --vendor 0|0x8086     vendor (default 0)\n"
	"      --swdefined N         the SWDEFINED word (default 0)\n"
	"      --isvfamilyid HEX     KSS product family, 32 hex digits (default 0;\n"
	"                            EINIT wants attribute KSS when it is not 0)\n"
	"      --isvextprodid HEX    KSS extended product ID, 32 hex digits\n"
	"      --debug               sign a debug enclave (attributes | DEBUG)\n"
	"      --heap N              ELF: N unmeasured heap pages after the image\n"
	"      --ssa-frame-size N    ELF: pages per SSA frame (default 1)\n"
	"      --max-memory SIZE     host memory the image may take (default 1G)\n"
	"      --json                print the signed fields, MRENCLAVE and MRSIGNER\n"
	"\n"
	"Examples:\n"
	"  sgxemu sign --key key.pem --isvprodid 1 --isvsvn 2 -o enclave.sig enclave.elf\n"
	"  sgxemu sign --key key.pem --date 0 --attributes MODE64BIT,DEBUG \\\n"
	"              --mrenclave 41bed401...e8a4 -o enclave.sig\n";

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
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "attributes", required_argument, NULL, OPT_ATTR },
		{ "xfrm", required_argument, NULL, OPT_XFRM },
		{ "attributes-mask", required_argument, NULL, OPT_ATTR_MASK },
		{ "xfrm-mask", required_argument, NULL, OPT_XFRM_MASK },
		{ "miscselect", required_argument, NULL, OPT_MISC },
		{ "misc-mask", required_argument, NULL, OPT_MISC_MASK },
		{ "isvprodid", required_argument, NULL, OPT_PRODID },
		{ "isvsvn", required_argument, NULL, OPT_SVN },
		{ "date", required_argument, NULL, OPT_DATE },
		{ "vendor", required_argument, NULL, OPT_VENDOR },
		{ "swdefined", required_argument, NULL, OPT_SWDEFINED },
		{ "isvfamilyid", required_argument, NULL, OPT_FAMILY },
		{ "isvextprodid", required_argument, NULL, OPT_EXTPROD },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "gendata", no_argument, NULL, OPT_GENDATA },
		{ "signature", required_argument, NULL, OPT_SIGNATURE },
		{ "public-key", required_argument, NULL, OPT_PUBKEY },
		{ "mrenclave", required_argument, NULL, OPT_MRENCLAVE },
		TOOL_IMAGE_OPTIONS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sgx_sign_params *p = &a->p;
	bool debug = false, have_xfrm_mask = false;
	uint64_t v;
	int c, ret;

	memset(a, 0, sizeof(*a));
	tool_sign_defaults(p);
	tool_image_defaults(&a->im);
	struct tool_getopt g = { .cmd = "sign", .shortopts = "k:o:h", .longopts = opts };

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
			fputs(sign_help, stdout);
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

static const char show_help[] =
	"usage: sgxemu show [--json] SIGSTRUCT\n"
	"       sgxemu show [--json] [--summary] [--heap N] [--ssa-frame-size N] IMAGE\n"
	"\n"
	"Of an IMAGE (an enclave ELF or SGXS stream, told apart by content):\n"
	"the pages the build adds, in order, each with its offset, type,\n"
	"permissions, whether EEXTEND measures it (or which 256-byte chunks) and\n"
	"the SHA-256 of its contents; --summary gives ranges of like pages.\n"
	"\n"
	"Of a SIGSTRUCT:\n"
	"Prints a SIGSTRUCT's fields and MRSIGNER, and checks it as EINIT does\n"
	"(header words, vendor, exponent, reserved fields, Q1/Q2, the RSA-3072\n"
	"signature).  Exit 0 only if it verifies; 1 if it does not; 2 if the file\n"
	"is not 1808 bytes.  Every rule it breaks is named on stderr and, with\n"
	"--json, in \"problems\".\n"
	"\n"
	"      --summary           IMAGE: ranges of like pages, not each page\n"
	"      --heap N            IMAGE (ELF): N unmeasured heap pages\n"
	"      --ssa-frame-size N  IMAGE (ELF): pages per SSA frame (default 1)\n"
	"      --json              print one JSON object\n"
	"\n"
	"Examples: sgxemu show enclave.sig; sgxemu show --summary enclave.elf\n";

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
	static const struct option opts[] = {
		TOOL_IMAGE_OPTIONS,
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tool_image im;
	bool summary = false;
	const struct sgx_sigstruct_body *b;
	struct sgx_sigstruct ss;
	uint8_t mrsigner[32];
	char hex[65], attrs[128], date[16];
	struct sig_problems problems;
	bool json = false;
	int c, ret, check;

	struct tool_getopt g = { .cmd = "show", .shortopts = "h", .longopts = opts };

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
			fputs(show_help, stdout);
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
