/*
 * fuzz_sigstruct.c: libFuzzer target for the SIGSTRUCT checks EINIT makes
 * (sgx_sigstruct_check) and for EINIT itself on a small enclave.
 *
 * Any 1808 bytes must get 0, SGX_INVALID_SIG_STRUCT or
 * SGX_INVALID_SIGNATURE from the check, never a crash; and EINIT with them
 * must answer a code, leave the enclave uninitialized unless the check
 * passed, and never fault.  Shorter inputs are zero-padded, so the fuzzer
 * can start from the committed vectors (tests/vectors/sig_*.bin).
 *
 *   fuzz_sigstruct CORPUS_DIR fuzz/seeds/sigstruct
 */
#include <stdlib.h>
#include <string.h>

#include "sgxemu/cpu.h"

#define ENCL_BASE 0x7f0000000000ULL

static struct sgx_cpu *cpu;
static void *secs_page;

/* One machine and one uninitialized two-page enclave for the whole run. */
static void setup(void)
{
	static uint8_t src[4096] __attribute__((aligned(4096)));
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = { 0 };
	struct sgx_cpu_config cfg;
	struct sgx_secs *secs = (struct sgx_secs *)src;

	sgx_cpu_config_default(&cfg, 16 * 4096);
	cfg.seeded = true;
	if (sgx_cpu_create(&cfg, &cpu))
		abort();
	secs->size = 2 * 4096;
	secs->base = ENCL_BASE;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT;
	secs->xfrm = SGX_XFRM_LEGACY;
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	secs_page = sgx_cpu_frame_addr(cpu, 0);
	if (encls_ecreate(cpu, &pginfo, secs_page))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sgx_sigstruct sig __attribute__((aligned(4096)));
	static struct sgx_einittoken token;
	uint8_t mrsigner[32];
	uint64_t hash[4];
	int check, ret;

	if (!cpu)
		setup();
	memset(&sig, 0, sizeof(sig));
	memcpy(&sig, data, size < sizeof(sig) ? size : sizeof(sig));

	check = sgx_sigstruct_check(&sig, mrsigner);
	if (check != 0 && check != SGX_INVALID_SIG_STRUCT && check != SGX_INVALID_SIGNATURE)
		abort();

	/* EINIT as the driver runs it: the signer's hash in the MSRs. */
	memcpy(hash, mrsigner, sizeof(hash));
	for (int i = 0; i < 4; i++)
		if (sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, hash[i]))
			abort();
	ret = encls_einit(cpu, &sig, &token, secs_page);
	if (encls_faulted(ret))
		abort();
	if (check && ret != check)
		abort(); /* EINIT makes the same checks first */
	if (ret == 0)
		abort(); /* no measurement matches a two-page enclave with no pages */
	return 0;
}
