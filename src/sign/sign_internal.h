/*
 * sign_internal.h: helpers shared by the files of src/sign/, not part of
 * its interface (sign.h).
 */
#ifndef SGXEMU_SIGN_INTERNAL_H
#define SGXEMU_SIGN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sgxemu/sign.h"

/* Formats a message into err (if not NULL and errlen > 0).  Returns
 * -EINVAL, so that a refusal can read "return sgx_sign_err(...)". */
int sgx_sign_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The 64-byte measurement records of arch.h, filled with reserved bytes 0. */
void sgx_meas_ecreate_record(const struct sgx_layout *layout, struct sgx_meas_ecreate *rec);
void sgx_meas_eadd_record(const struct sgx_layout_page *page, struct sgx_meas_eadd *rec);
/* What EADD makes of a page before it is measured: the SECINFO flags of
 * the EADD record (a TCS loses R, W and X), and chunk number chunk of the
 * page's contents as it then sits in the EPC (a TCS's first chunk loses
 * FLAGS.DBGOPTIN, CSSA, AEP and STATE).  sgx_chunk_as_added() returns data
 * itself when EADD leaves the chunk alone, else scratch holding the
 * cleared copy; data may be NULL (a zero chunk, which EADD leaves zero). */
uint64_t sgx_secinfo_as_added(uint64_t flags);
const uint8_t *sgx_chunk_as_added(uint64_t flags, unsigned int chunk, const uint8_t *data,
				  uint8_t scratch[SGX_EEXTEND_CHUNK]);
/* An EEXTEND-shaped record with the given tag (EEXTEND or UNMEASRD). */
void sgx_meas_eextend_record(uint64_t offset, uint64_t tag, struct sgx_meas_eextend *rec);

/* 0 if key is an RSA-3072 key with public exponent 3, else -EINVAL with
 * the reason in err. */
int sgx_key_check(EVP_PKEY *key, char *err, size_t errlen);

#endif /* SGXEMU_SIGN_INTERNAL_H */
