/*
 * sign.h: enclave identity in software.
 *
 * An enclave build is described by a layout: the SECS fields ECREATE sees
 * and the pages EADD adds, in order, each measured (EEXTEND of its 16
 * chunks) or not.  From a layout this module computes MRENCLAVE exactly as
 * the processor accumulates it, signs SIGSTRUCTs with RSA-3072 keys of
 * exponent 3, and reads and writes the layouts that enclave images carry:
 * ELF files laid out as Linux SGX loaders lay them out, and SGXS streams.
 *
 * The checks EINIT makes of a SIGSTRUCT are the processor's and live in
 * cpu.h (sgx_sigstruct_check()); this module only produces them.
 */
#ifndef SGXEMU_SIGN_H
#define SGXEMU_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sgxemu/arch.h"

typedef struct evp_pkey_st EVP_PKEY;

struct sgx_layout_page {
	uint64_t offset; /* from the enclave base, page aligned */
	uint64_t secinfo_flags; /* permissions | page type << 8 */
	bool measure; /* EEXTEND all 16 chunks */
	const uint8_t *data; /* 4096 bytes; NULL means a zero page */
	/* When measure is false: the chunks that are EEXTENDed anyway, bit i
	 * for bytes [256 i, 256 i + 256), in ascending order (SGXS streams
	 * may measure part of a page).  Ignored when measure is true; 0 means
	 * an unmeasured page. */
	uint16_t chunk_mask;
};

/* The chunks of a page that EEXTEND measures, as a mask of 16 bits. */
static inline uint16_t sgx_layout_page_chunks(const struct sgx_layout_page *page)
{
	return page->measure ? 0xFFFF : page->chunk_mask;
}

struct sgx_layout {
	uint64_t size; /* enclave size: a power of two, >= 2 pages */
	uint32_t ssa_frame_size; /* pages per SSA frame */
	uint32_t miscselect;
	uint64_t attributes;
	uint64_t xfrm;
	size_t nr_pages;
	struct sgx_layout_page *pages; /* in EADD order */
	/* Owned storage behind pages[].data, freed by sgx_layout_free(). */
	void *storage;
	size_t storage_size;
};

/* Releases what a loader allocated (pages and storage, both from malloc;
 * pages may also point inside storage) and zeroes the layout; safe on a
 * zeroed layout. */
void sgx_layout_free(struct sgx_layout *layout);

/* Checks the layout is buildable: size a power of two >= 8192, SSA frame
 * size >= 1, offsets page aligned, inside size, unique; page types TCS or
 * REG with the SECINFO EADD accepts (no bits beyond the permissions and
 * the type, no W without R on a REG page).  A TCS's R, W and X are allowed
 * and measured cleared, as EADD clears them; the Linux driver's ADD_PAGES
 * is stricter and refuses them.
 * 0 or -EINVAL, with a message in err (if not NULL) naming the problem. */
int sgx_layout_validate(const struct sgx_layout *layout, char *err, size_t errlen);

/* MRENCLAVE of the build, as ECREATE+EADD+EEXTEND accumulate it.  0,
 * -EINVAL for a layout sgx_layout_validate() refuses, or -ENOMEM.
 * Costs one SHA-256 over 64 bytes per page plus 320 per measured chunk. */
int sgx_layout_measure(const struct sgx_layout *layout, uint8_t mrenclave[32]);

/* Image loaders.  Both return 0, or -EINVAL for a malformed image (err says
 * what is wrong: truncated, bad magic, segment outside the enclave, ...),
 * -ENOMEM, or -errno from reading the file.  The layout they fill owns
 * copies of the page contents (in out->storage): buf may be freed after
 * the call; release the layout with sgx_layout_free(). */
struct sgx_elf_options {
	uint64_t heap_pages; /* unmeasured RW heap pages after the image */
	uint32_t ssa_frame_size; /* default 1 */
	uint64_t attributes; /* default SGX_ATTR_MODE64BIT */
	uint64_t xfrm; /* default SGX_XFRM_LEGACY */
	uint32_t miscselect;
};
/* Tag of the enhanced SGXS format's UNMEASRD record ("UNMEASRD" read as a
 * little-endian u64): a chunk loaded but not measured.  Not architectural. */
#define SGXS_TAG_UNMEASRD 0x44525341454D4E55ULL

int sgx_load_elf(const uint8_t *buf, size_t len, const struct sgx_elf_options *opts,
		 struct sgx_layout *out, char *err, size_t errlen);
/* SGXS: 64-byte records ECREATE, EADD, EEXTEND (+256 data bytes) and the
 * enhanced format's UNMEASRD (+256 data bytes, loaded, not measured), as
 * rust-sgx writes them.  The stream must be canonical enough to be a
 * layout: one ECREATE first, reserved bytes zero, chunks 256-aligned and
 * inside the page last added, measured chunks of a page in ascending
 * order, no chunk twice, and the result must pass sgx_layout_validate().
 * The layout's data point into out->storage, not into buf. */
int sgx_load_sgxs(const uint8_t *buf, size_t len, struct sgx_layout *out, char *err,
		  size_t errlen);
/* Reads a whole regular file of at most max bytes into a malloc'd buffer
 * (*buf, for the caller to free; not NULL on success, even for an empty
 * file).  0, -EISDIR for a directory, -EINVAL for a file that is not
 * regular (a device, a pipe), -EFBIG when it is larger than max, -ENOMEM,
 * or -errno from open or read; err (if not NULL) names path and the
 * problem.  A file that shrinks while it is read gives what was there. */
int sgx_read_file(const char *path, size_t max, uint8_t **buf, size_t *len, char *err,
		  size_t errlen);
/* Reads a file (at most 1 GiB, else -EFBIG) and calls the loader its
 * content calls for: ELF magic -> sgx_load_elf(), an SGXS ECREATE record ->
 * sgx_load_sgxs(), anything else -EINVAL "not an ELF enclave or SGXS
 * stream". */
int sgx_load_image(const char *path, const struct sgx_elf_options *opts,
		   struct sgx_layout *out, char *err, size_t errlen);
/* Writes the layout as an SGXS stream into a malloc'd buffer: measured
 * chunks as EEXTEND records; unmeasured chunks whose contents are not zero
 * as UNMEASRD records, so that loading the stream gives the same pages.
 * 0, -EINVAL for a layout sgx_layout_validate() refuses, or -ENOMEM. */
int sgx_layout_to_sgxs(const struct sgx_layout *layout, uint8_t **buf, size_t *len);

/* Keys: RSA-3072 with public exponent 3.  Generation takes about a second. */
int sgx_key_generate(EVP_PKEY **key);
/* Loads a PEM private key from a regular file of at most 64 KiB.  0,
 * -EINVAL (err says why) unless it holds an unencrypted RSA-3072, e = 3
 * key, or what sgx_read_file() returns. */
int sgx_key_load(const char *path, EVP_PKEY **key, char *err, size_t errlen);
/* Writes the private key as unencrypted PKCS#8 PEM into a new file of mode
 * 0600.  0, -EEXIST if path exists (a key is never written over a file),
 * -EINVAL unless RSA-3072/e=3, -EIO, or -errno from creating the file. */
int sgx_key_save(const char *path, EVP_PKEY *key);

/* What a SIGSTRUCT states besides MRENCLAVE. */
struct sgx_sign_params {
	uint32_t vendor; /* 0 or 0x8086 */
	uint32_t date; /* BCD yyyymmdd */
	uint32_t swdefined;
	uint32_t miscselect;
	uint32_t misc_mask;
	uint64_t attributes;
	uint64_t xfrm;
	uint64_t attributes_mask;
	uint64_t xfrm_mask;
	uint16_t isvprodid;
	uint16_t isvsvn;
	/* Key separation and sharing: EINIT refuses a non-zero ISVFAMILYID
	 * unless the enclave has ATTRIBUTES.KSS. */
	uint8_t isvfamilyid[16];
	uint8_t isvextprodid[16];
};

/* Builds and signs a SIGSTRUCT for mrenclave: header words, modulus,
 * exponent 3, PKCS#1 v1.5 signature over SHA-256 of the two signed regions,
 * Q1 and Q2; every reserved field zero.  Deterministic: the same key and
 * input give the same bytes.  0, -EINVAL for a key that is not RSA-3072/e=3
 * or a vendor other than 0 and 0x8086, or -ENOMEM (out is zeroed on
 * failure).  About 3 ms here, nearly all of it the private-key operation. */
int sgx_sigstruct_sign(EVP_PKEY *key, const struct sgx_sign_params *params,
		       const uint8_t mrenclave[32], struct sgx_sigstruct *out);

/* SHA-256 of the modulus: the signer's identity (MRSIGNER).  All zero if
 * the hash cannot be computed (out of memory). */
void sgx_sigstruct_mrsigner(const struct sgx_sigstruct *sigstruct, uint8_t mrsigner[32]);
/* MRSIGNER of a signing key: SHA-256 of its modulus as SIGSTRUCT stores it
 * (384 bytes, little-endian).  0, -EINVAL for a key that is not
 * RSA-3072/e=3, or -ENOMEM; mrsigner is zeroed on failure. */
int sgx_key_mrsigner(EVP_PKEY *key, uint8_t mrsigner[32]);

/*
 * Offline signing, for a key held elsewhere (an HSM): prepare the
 * SIGSTRUCT, hand its 256 signed bytes (bytes 0..127 and 900..1027) to the
 * signer, and assemble the result from the signer's PKCS#1 v1.5 SHA-256
 * signature, as `openssl dgst -sha256 -sign` writes it (384 bytes,
 * big-endian).  The same params, MRENCLAVE and key give the bytes
 * sgx_sigstruct_sign() gives.
 */
#define SGX_SIGNED_DATA_SIZE 256
/* Header, exponent and body from params and mrenclave; the rest zero. */
void sgx_sigstruct_prepare(const struct sgx_sign_params *params, const uint8_t mrenclave[32],
			   struct sgx_sigstruct *out);
/* The bytes a signer signs: SIGSTRUCT bytes 0..127, then 900..1027. */
void sgx_sigstruct_signed_data(const struct sgx_sigstruct *s, uint8_t out[SGX_SIGNED_DATA_SIZE]);
/* Completes a prepared SIGSTRUCT: key (RSA-3072, e = 3; the public half
 * suffices) gives MODULUS; signature is verified over the signed bytes,
 * then stored with Q1 and Q2.  0, -EINVAL (the key is not RSA-3072/e=3 or
 * the vendor is not 0 or 0x8086), -EBADMSG (the signature does not
 * verify: other bytes or another key; s is left unsigned), -ENOMEM. */
int sgx_sigstruct_assemble(struct sgx_sigstruct *s, EVP_PKEY *key,
			   const uint8_t signature[SGX_MODULUS_SIZE]);

#endif /* SGXEMU_SIGN_H */
