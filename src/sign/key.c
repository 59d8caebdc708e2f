/*
 * key.c: the enclave signer's RSA keys.
 *
 * SIGSTRUCT fixes the key: RSA with a 3072-bit modulus and public exponent
 * 3.  Keys are generated through EVP_PKEY_keygen with OSSL parameters and
 * kept on disk as unencrypted PEM; loading refuses any other kind of key
 * with a message that says what the key is instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "sgxemu/sign.h"
#include "sign/sign_internal.h"

#define SGX_KEY_BITS (SGX_MODULUS_SIZE * 8)
/* A PEM RSA-3072 private key takes about 2.5 KiB; a key file may not
 * take more than this. */
#define SGX_KEY_FILE_MAX ((size_t)64 << 10)

int sgx_key_check(EVP_PKEY *key, char *err, size_t errlen)
{
	BIGNUM *e = NULL;
	int bits, ret = -EINVAL;

	if (!key) {
		sgx_sign_err(err, errlen, "no key");
		return -EINVAL;
	}
	if (!EVP_PKEY_is_a(key, "RSA")) {
		sgx_sign_err(err, errlen, "%s key, not RSA", EVP_PKEY_get0_type_name(key) ?: "unknown");
		return -EINVAL;
	}
	bits = EVP_PKEY_get_bits(key);
	if (bits != SGX_KEY_BITS) {
		sgx_sign_err(err, errlen, "RSA key of %d bits, not %d", bits, SGX_KEY_BITS);
		return -EINVAL;
	}
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
		ERR_clear_error();
		sgx_sign_err(err, errlen, "RSA key without a public exponent");
		return -EINVAL;
	}
	if (!BN_is_word(e, SGX_SIGSTRUCT_EXPONENT)) {
		char *dec = BN_bn2dec(e);

		sgx_sign_err(err, errlen, "RSA key with public exponent %s, not 3", dec ?: "?");
		OPENSSL_free(dec);
		goto out;
	}
	ret = 0;
out:
	BN_free(e);
	return ret;
}

int sgx_key_generate(EVP_PKEY **key)
{
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *e;
	int ret = -ENOMEM;

	*key = NULL;
	e = BN_new();
	bld = OSSL_PARAM_BLD_new();
	if (!e || !bld || !BN_set_word(e, SGX_SIGSTRUCT_EXPONENT))
		goto out;
	if (!OSSL_PARAM_BLD_push_uint(bld, OSSL_PKEY_PARAM_RSA_BITS, SGX_KEY_BITS) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx)
		goto out;
	if (EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
	    EVP_PKEY_keygen(ctx, key) <= 0) {
		*key = NULL;
		goto out;
	}
	ret = 0;
out:
	if (ret)
		ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	return ret;
}

/* Refuses to prompt for a pass phrase: keys on disk are not encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int sgx_key_load(const char *path, EVP_PKEY **key, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	uint8_t *pem;
	size_t len;
	BIO *bio;
	int ret;

	*key = NULL;
	ret = sgx_read_file(path, SGX_KEY_FILE_MAX, &pem, &len, err, errlen);
	if (ret)
		return ret;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		ret = -ENOMEM;
		goto out_free_pem;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey) {
		sgx_sign_err(err, errlen, "%s: no unencrypted PEM private key", path);
		ret = -EINVAL;
		goto out_free_pem;
	}
	ret = sgx_key_check(pkey, err, errlen);
	if (ret) {
		/* Prefix the reason with the file it is about. */
		if (err && errlen) {
			char why[160];

			snprintf(why, sizeof(why), "%s", err);
			sgx_sign_err(err, errlen, "%s: %s; enclave keys are RSA-3072 with exponent 3",
				     path, why);
		}
		EVP_PKEY_free(pkey);
		goto out_free_pem;
	}
	*key = pkey;
out_free_pem:
	OPENSSL_cleanse(pem, len);
	free(pem);
	return ret;
}

int sgx_key_save(const char *path, EVP_PKEY *key)
{
	FILE *f;
	int fd, ret;

	ret = sgx_key_check(key, NULL, 0);
	if (ret)
		return ret;
	/* Created here or not at all: a key never replaces a file, and the
	 * mode is the one given here, not an older file's. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = 0;
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)) {
		ERR_clear_error();
		ret = -EIO;
	}
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	return ret;
}
