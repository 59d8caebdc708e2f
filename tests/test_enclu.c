/*
 * test_enclu.c: ENCLU on the program's threads (rt_enclu.h) over a core in
 * this process: ECALL round trips through the vDSO-ABI enter function.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <ucontext.h>

#include "rt_helpers.h"

#define HEAP 64

TEST(ecall_round_trip)
{
	struct sgx_core *core = rt_core(1024, false);
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_ADD, 40, 2, 0), 42);
	for (unsigned int i = 0; i < SAMPLE_NR_TCS; i++)
		CHECK_EQ(rt_call(&e, i, SAMPLE_OP_TCS_INDEX, 0, 0, 0), i);
	CHECK_EQ(rt_call(&e, 1, SAMPLE_OP_STATS, SAMPLE_STAT_DATA_WORD, 0, 0), SAMPLE_DATA_WORD);
	rt_destroy(&e);
	rt_finish(core);
}

/* The enter function's own checks, before any ENCLU. */
TEST(enter_refuses_bad_leaf_and_reserved)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;
	int ret;

	rt_build(core, HEAP, 0, 0, &e);
	memset(&run, 0, sizeof(run));
	run.tcs = rt_tcs(&e, 0);
	CHECK_EQ(sgxrt_enter_enclave_c(0, 0, 0, SGX_ENCLU_EEXIT, 0, 0, &run), -EINVAL);
	CHECK_EQ(sgxrt_enter_enclave_c(0, 0, 0, 1, 0, 0, &run), -EINVAL);
	CHECK_EQ(sgxrt_enter_enclave_c(0, 0, 0, 0x102, 0, 0, &run), -EINVAL);
	run.reserved[215] = 1;
	CHECK_EQ(sgxrt_enter_enclave_c(0, 0, 0, SGX_ENCLU_EENTER, 0, 0, &run), -EINVAL);
	run.reserved[215] = 0;
	run.reserved[0] = 1;
	CHECK_EQ(sgxrt_enter_enclave_c(0, 0, 0, SGX_ENCLU_EENTER, 0, 0, &run), -EINVAL);
	/* ERESUME with nothing to resume: the leaf's #GP, reported. */
	(void)rt_call_ex(&e, 0, SGX_ENCLU_ERESUME, 0, 0, 0, 0, &run, &ret);
	CHECK_EQ(ret, 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, X86_TRAP_GP);
	/* A TCS address that is no TCS: #PF at it. */
	memset(&run, 0, sizeof(run));
	run.tcs = rt_tcs(&e, SAMPLE_NR_TCS);
	CHECK_EQ(sgxrt_enter_enclave_c(0, 0, 0, SGX_ENCLU_EENTER, 0, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_EENTER);
	CHECK_EQ(run.exception_vector, X86_TRAP_PF);
	CHECK_EQ(run.exception_addr, rt_tcs(&e, SAMPLE_NR_TCS));
	/* Still works. */
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_ADD, 1, 2, 0), 3);
	rt_destroy(&e);
	rt_finish(core);
}

/* Without a user handler, the enter function returns 0 at EEXIT with
 * function = EEXIT; callee-saved registers and the stack survive (the
 * compiler-generated caller checks the latter by itself). */
TEST(enter_without_handler)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	for (int i = 0; i < 100; i++) {
		memset(&run, 0, sizeof(run));
		run.tcs = rt_tcs(&e, (unsigned int)i % SAMPLE_NR_TCS);
		CHECK_EQ(sgxrt_enter_enclave_c(SAMPLE_OP_ADD, 1, 2, SGX_ENCLU_EENTER, 0, 0, &run), 0);
		CHECK_EQ(run.function, SGX_ENCLU_EEXIT);
	}
	rt_destroy(&e);
	rt_finish(core);
}

/* FS and GS are the TCS's OFSBASE and OGSBASE inside, the host's outside. */
static __thread long host_tls_word = 12345;

TEST(fs_gs_bases_inside_and_out)
{
	struct sgx_core *core = rt_core(1024, false);
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	for (unsigned int i = 0; i < SAMPLE_NR_TCS; i++) {
		CHECK_EQ(rt_call(&e, i, SAMPLE_OP_TLS, 5, 0, 0), 5);
		CHECK_EQ(rt_call(&e, i, SAMPLE_OP_TLS, (long)i, 0, 0), 5 + (long)i);
		CHECK_EQ(host_tls_word, 12345);
		host_tls_word++;
		host_tls_word--;
	}
	CHECK_EQ(errno, errno); /* TLS of the C library */
	rt_destroy(&e);
	rt_finish(core);
}

/* --- Four threads at once ----------------------------------------------- */

struct worker {
	struct rt_encl *e;
	unsigned int tcs;
	unsigned int calls;
	long bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 1000 + w->tcs;
	long pages = HEAP / SAMPLE_NR_TCS, first = w->tcs * pages;
	struct sgx_enclave_run run;
	int ret;

	for (unsigned int i = 0; i < w->calls; i++) {
		long r = rt_call_ex(w->e, w->tcs, SGX_ENCLU_EENTER, SAMPLE_OP_ADD, (long)i, 1, 0,
				    &run, &ret);

		if (ret || run.function != SGX_ENCLU_EEXIT || r != (long)i + 1)
			w->bad++;
		if (i % 64 == 0) {
			r = rt_call_ex(w->e, w->tcs, SGX_ENCLU_EENTER, SAMPLE_OP_FILL, (long)seed,
				       pages, first, &run, &ret);
			if (ret || r < 0)
				w->bad++;
			r = rt_call_ex(w->e, w->tcs, SGX_ENCLU_EENTER, SAMPLE_OP_VERIFY, (long)seed,
				       pages, first, &run, &ret);
			if (ret || r != pages)
				w->bad++;
			r = rt_call_ex(w->e, w->tcs, SGX_ENCLU_EENTER, SAMPLE_OP_TLS, 1, 0, 0, &run,
				       &ret);
			if (ret || r != (long)(i / 64) + 1)
				w->bad++;
		}
	}
	return NULL;
}

TEST(ecalls_from_four_threads)
{
	struct sgx_core *core = rt_core(1024, false);
	struct worker w[SAMPLE_NR_TCS];
	pthread_t th[SAMPLE_NR_TCS];
	struct sgxrt_stats before, after;
	unsigned int calls = harness_sanitized() ? 500 : 5000;
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	sgxrt_stats(&before);
	for (unsigned int i = 0; i < SAMPLE_NR_TCS; i++) {
		w[i] = (struct worker){ &e, i, calls, 0 };
		CHECK_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned int i = 0; i < SAMPLE_NR_TCS; i++) {
		CHECK_EQ(pthread_join(th[i], NULL), 0);
		CHECK_EQ(w[i].bad, 0);
	}
	sgxrt_stats(&after);
	CHECK_EQ(after.eexits - before.eexits,
		 (uint64_t)SAMPLE_NR_TCS * (calls + 3 * ((calls + 63) / 64)));
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_STATS, SAMPLE_STAT_CALLS, 0, 0),
		 (long)(SAMPLE_NR_TCS * (calls + 3 * ((calls + 63) / 64))));
	rt_destroy(&e);
	rt_finish(core);
}

/* --- Exceptions --------------------------------------------------------- */

static struct {
	unsigned int calls, exceptions;
	uint16_t vector, error_code;
	uint64_t addr;
} seen;

/* A user handler that records every exit and keeps RDX. */
static int record_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			  struct sgx_enclave_run *run)
{
	seen.calls++;
	if (run->function == SGX_ENCLU_ERESUME) {
		seen.exceptions++;
		seen.vector = run->exception_vector;
		seen.error_code = run->exception_error_code;
		seen.addr = run->exception_addr;
	}
	run->user_data = (uint64_t)rdx;
	return 0;
}

/* Enters (or resumes) TCS tcs with op FAULT; the run structure tells how
 * it ended. */
static int fault_call(const struct rt_encl *e, unsigned int tcs, unsigned int leaf, long kind,
		      long a2, struct sgx_enclave_run *run)
{
	memset(run, 0, sizeof(*run));
	run->tcs = rt_tcs(e, tcs);
	run->user_handler = (uint64_t)(uintptr_t)record_handler;
	return sgxrt_enter_enclave_c(SAMPLE_OP_FAULT, (unsigned long)kind, (unsigned long)a2, leaf, 0,
				   0, run);
}

static const struct sgx_tcs *layout_tcs(const struct rt_encl *e, unsigned int i)
{
	CHECK_EQ(e->layout.pages[i].secinfo_flags & SGX_SECINFO_PAGE_TYPE_MASK, SGX_SECINFO_TCS);
	return (const struct sgx_tcs *)e->layout.pages[i].data;
}

/* GPRSGX and EXINFO of SSA frame `frame` of TCS i, through the mapping. */
static const struct sgx_gprsgx *ssa_gprs(const struct rt_encl *e, unsigned int i, unsigned int frame)
{
	return (const struct sgx_gprsgx *)(e->base + layout_tcs(e, i)->ssa_offset +
					   (frame + 1) * SGX_PAGE_SIZE - SGX_SSA_GPRS_SIZE);
}

static const struct sgx_exinfo *ssa_exinfo(const struct rt_encl *e, unsigned int i,
					   unsigned int frame)
{
	return (const struct sgx_exinfo *)((const uint8_t *)ssa_gprs(e, i, frame) -
					   SGX_SSA_MISC_EXINFO_SIZE);
}

static uint32_t tcs_cssa(const struct rt_encl *e, unsigned int i)
{
	uint32_t cssa = 0xffff;

	CHECK_EQ(sgx_encl_read(e->encl, (uint64_t)i * SGX_PAGE_SIZE +
				 offsetof(struct sgx_tcs, ssa_index), &cssa, sizeof(cssa)), 0);
	return cssa;
}

#define EXITINFO(vec, type) ((vec) | ((type) << 8) | SGX_EXITINFO_VALID)

/* #PF by page-table permissions: error code 0x7 (present, write, user),
 * the page's address; resumed once the page is writable, the write is
 * made and the call finishes. */
TEST(exception_pf_page_table_then_eresume)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;
	uint8_t *page;

	rt_build(core, HEAP, 0, 0, &e);
	page = e.base + e.image_end + 3 * SGX_PAGE_SIZE;
	(void)*(volatile uint64_t *)page; /* present in the page tables */
	CHECK_EQ(mprotect(page, SGX_PAGE_SIZE, PROT_READ), 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(fault_call(&e, 1, SGX_ENCLU_EENTER, SAMPLE_FAULT_WRITE, (long)(page + 40), &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, X86_TRAP_PF);
	CHECK_EQ(run.exception_error_code, 0x7);
	CHECK_EQ(run.exception_addr, (uint64_t)(uintptr_t)page);
	CHECK_EQ(seen.exceptions, 1);
	CHECK_EQ(seen.vector, X86_TRAP_PF);
	/* The SSA frame: EXITINFO, EXINFO with the whole address, CSSA. */
	CHECK_EQ(tcs_cssa(&e, 1), 1);
	CHECK_EQ(ssa_gprs(&e, 1, 0)->exitinfo, EXITINFO(X86_TRAP_PF, SGX_EXITINFO_TYPE_HW));
	CHECK_EQ(ssa_exinfo(&e, 1, 0)->maddr, (uint64_t)(uintptr_t)(page + 40));
	CHECK_EQ(ssa_exinfo(&e, 1, 0)->errcd, 0x7);
	CHECK(ssa_gprs(&e, 1, 0)->rip >= (uint64_t)(uintptr_t)e.base &&
	      ssa_gprs(&e, 1, 0)->rip < (uint64_t)(uintptr_t)e.base + e.size);

	/* Fixed: ERESUME finishes the write and the call. */
	CHECK_EQ(mprotect(page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(fault_call(&e, 1, SGX_ENCLU_ERESUME, 0, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_EEXIT);
	CHECK_EQ(run.user_data, SAMPLE_FAULT_WRITE);
	CHECK_EQ(*(uint64_t *)(page + 40), 0x5741);
	CHECK_EQ(tcs_cssa(&e, 1), 0);
	CHECK_EQ(seen.calls, 2);
	CHECK_EQ(rt_call(&e, 1, SAMPLE_OP_ADD, 2, 2, 0), 4);
	rt_destroy(&e);
	rt_finish(core);
}

/* #PF by EPCM permissions: the enclave writes its own TCS, which the
 * page tables could map but the EPCM gives no access: 0x8007 (SGX bit). */
TEST(exception_pf_epcm_write_to_tcs)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(fault_call(&e, 2, SGX_ENCLU_EENTER, SAMPLE_FAULT_WRITE_TCS, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, X86_TRAP_PF);
	CHECK_EQ(run.exception_error_code, 0x8007);
	CHECK_EQ(run.exception_addr, rt_tcs(&e, 2));
	CHECK_EQ(seen.error_code, 0x8007);
	CHECK_EQ(ssa_exinfo(&e, 2, 0)->errcd, 0x8007);
	CHECK_EQ(ssa_exinfo(&e, 2, 0)->maddr, rt_tcs(&e, 2));
	CHECK_EQ(tcs_cssa(&e, 2), 1);
	/* The exception-handler entry (CSSA 1) answers -2; the TCS stays
	 * usable for that. */
	CHECK_EQ(rt_call(&e, 2, SAMPLE_OP_ADD, 1, 1, 0), SAMPLE_EXCEPTION_ENTRY);
	/* Another TCS is not affected. */
	CHECK_EQ(rt_call(&e, 3, SAMPLE_OP_ADD, 1, 1, 0), 2);
	rt_destroy(&e);
	rt_finish(core);
}

/* #UD, #DE and int3 (#BP): vector, no error code, no address; EXITINFO
 * type 3 for the first two, 6 (software) for int3, which is a trap:
 * ERESUME continues after it. */
TEST(exception_ud_de_bp)
{
	struct sgx_core *core = rt_core(1024, false);
	const struct sgx_gprsgx *g;
	struct sgx_enclave_run run;
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	memset(&seen, 0, sizeof(seen));

	CHECK_EQ(fault_call(&e, 0, SGX_ENCLU_EENTER, SAMPLE_FAULT_UD2, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, X86_TRAP_UD);
	CHECK_EQ(run.exception_error_code, 0);
	CHECK_EQ(run.exception_addr, 0);
	g = ssa_gprs(&e, 0, 0);
	CHECK_EQ(g->exitinfo, EXITINFO(X86_TRAP_UD, SGX_EXITINFO_TYPE_HW));
	CHECK_EQ(((const uint8_t *)(uintptr_t)g->rip)[0], 0x0f);
	CHECK_EQ(((const uint8_t *)(uintptr_t)g->rip)[1], 0x0b);
	CHECK_EQ(g->fsbase, (uint64_t)(uintptr_t)e.base + layout_tcs(&e, 0)->fs_offset);
	CHECK_EQ(g->rdi, SAMPLE_OP_FAULT);

	CHECK_EQ(fault_call(&e, 1, SGX_ENCLU_EENTER, SAMPLE_FAULT_DIV0, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, 0);
	CHECK_EQ(run.exception_error_code, 0);
	CHECK_EQ(ssa_gprs(&e, 1, 0)->exitinfo, EXITINFO(0, SGX_EXITINFO_TYPE_HW));

	CHECK_EQ(fault_call(&e, 3, SGX_ENCLU_EENTER, SAMPLE_FAULT_INT3, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_ERESUME);
	CHECK_EQ(run.exception_vector, 3);
	CHECK_EQ(run.exception_addr, 0);
	CHECK_EQ(ssa_gprs(&e, 3, 0)->exitinfo, EXITINFO(3, SGX_EXITINFO_TYPE_SW));
	CHECK_EQ(tcs_cssa(&e, 3), 1);
	CHECK_EQ(fault_call(&e, 3, SGX_ENCLU_ERESUME, 0, 0, &run), 0);
	CHECK_EQ(run.function, SGX_ENCLU_EEXIT);
	CHECK_EQ(run.user_data, SAMPLE_FAULT_INT3);
	CHECK_EQ(tcs_cssa(&e, 3), 0);
	CHECK_EQ(seen.exceptions, 3);
	CHECK_EQ(seen.calls, 4);
	rt_destroy(&e);
	rt_finish(core);
}

/* A user handler's positive return is the next leaf: resume right away
 * after fixing the page, in one call of the enter function. */
static uint8_t *fix_page;

static int fixing_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			  struct sgx_enclave_run *run)
{
	seen.calls++;
	if (run->function == SGX_ENCLU_ERESUME && run->exception_vector == X86_TRAP_PF) {
		seen.exceptions++;
		if (mprotect(fix_page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE))
			return -1;
		return SGX_ENCLU_ERESUME;
	}
	run->user_data = (uint64_t)rdx;
	return 0;
}

TEST(user_handler_resumes)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	fix_page = e.base + e.image_end;
	CHECK_EQ(mprotect(fix_page, SGX_PAGE_SIZE, PROT_READ), 0);
	memset(&seen, 0, sizeof(seen));
	memset(&run, 0, sizeof(run));
	run.tcs = rt_tcs(&e, 0);
	run.user_handler = (uint64_t)(uintptr_t)fixing_handler;
	CHECK_EQ(sgxrt_enter_enclave_c(SAMPLE_OP_FAULT, SAMPLE_FAULT_WRITE,
				     (unsigned long)(uintptr_t)fix_page, SGX_ENCLU_EENTER, 0, 0,
				     &run),
		 0);
	CHECK_EQ(run.function, SGX_ENCLU_EEXIT);
	CHECK_EQ(run.user_data, SAMPLE_FAULT_WRITE);
	CHECK_EQ(seen.exceptions, 1);
	CHECK_EQ(seen.calls, 2);
	rt_destroy(&e);
	rt_finish(core);
}

/* --- Keys --------------------------------------------------------------- */

#include <openssl/core_names.h>
#include <openssl/evp.h>

/* AES-128-CMAC by OpenSSL's EVP, independent of the processor's. */
static void host_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16])
{
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	size_t out = 0;

	CHECK(ctx);
	CHECK(EVP_MAC_init(ctx, key, 16, params));
	CHECK(EVP_MAC_update(ctx, data, len));
	CHECK(EVP_MAC_final(ctx, mac, &out, 16));
	CHECK_EQ(out, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
}

static long ereport(const struct rt_encl *e, const struct sgx_targetinfo *ti, const uint8_t data[64],
		    struct sgx_report *out)
{
	static struct {
		struct sgx_targetinfo ti;
		uint8_t data[64];
	} in __attribute__((aligned(512)));

	memcpy(&in.ti, ti, sizeof(*ti));
	memcpy(in.data, data, 64);
	return rt_call(e, 0, SAMPLE_OP_KEYS, (long)out, (long)&in, SAMPLE_KEYS_EREPORT);
}

static long egetkey(const struct rt_encl *e, const struct sgx_keyrequest *req, uint8_t key[16])
{
	return rt_call(e, 1, SAMPLE_OP_KEYS, (long)key, (long)req, SAMPLE_KEYS_EGETKEY);
}

static struct sgx_keyrequest keyreq(uint16_t name, uint16_t policy, uint16_t svn)
{
	struct sgx_keyrequest r;

	memset(&r, 0, sizeof(r));
	r.keyname = name;
	r.keypolicy = policy;
	r.isvsvn = svn;
	r.attributemask.flags = ~0ULL;
	r.miscmask = ~0U;
	for (int i = 0; i < 32; i++)
		r.keyid[i] = (uint8_t)(i + 1);
	return r;
}

/* A REPORT made for a target verifies there with EGETKEY(REPORT) and the
 * REPORT's KEYID, and not in another enclave. */
TEST(keys_report_verifies_in_target_only)
{
	struct sgx_core *core = rt_core(2048, false);
	static struct sgx_report self_a, rep;
	struct sgx_targetinfo ti;
	struct sgx_keyrequest req;
	uint8_t data[64], ka[16], kb[16], mac[16];
	struct rt_encl a, b;

	rt_build(core, HEAP, 0, 0, &a);
	rt_build(core, 2 * HEAP, 0, 0, &b);
	memset(&ti, 0, sizeof(ti));
	memset(data, 0, sizeof(data));
	CHECK_EQ(ereport(&a, &ti, data, &self_a), 0);
	memcpy(ti.mrenclave, self_a.body.mrenclave, 32);
	ti.attributes = self_a.body.attributes;
	ti.miscselect = self_a.body.miscselect;
	CHECK(self_a.body.attributes.flags & SGX_ATTR_INIT);
	CHECK_EQ(self_a.body.isvprodid, 7);

	for (int i = 0; i < 64; i++)
		data[i] = (uint8_t)(0xa0 + i);
	CHECK_EQ(ereport(&b, &ti, data, &rep), 0);
	CHECK_MEM(rep.body.report_data, data, 64);
	CHECK(memcmp(rep.body.mrenclave, self_a.body.mrenclave, 32) != 0); /* B's own */
	CHECK_MEM(rep.body.mrsigner, self_a.body.mrsigner, 32);

	req = keyreq(SGX_KEYNAME_REPORT, 0, 0);
	memcpy(req.keyid, rep.keyid, 32);
	CHECK_EQ(egetkey(&a, &req, ka), 0);
	host_cmac(ka, &rep.body, sizeof(rep.body), mac);
	CHECK_MEM(mac, rep.mac, 16);
	/* Not in B, and not over a changed body. */
	CHECK_EQ(egetkey(&b, &req, kb), 0);
	CHECK(memcmp(ka, kb, 16) != 0);
	host_cmac(kb, &rep.body, sizeof(rep.body), mac);
	CHECK(memcmp(mac, rep.mac, 16) != 0);
	rep.body.isvsvn ^= 1;
	host_cmac(ka, &rep.body, sizeof(rep.body), mac);
	CHECK(memcmp(mac, rep.mac, 16) != 0);
	rt_destroy(&a);
	rt_destroy(&b);
	rt_finish(core);
}

/* Sealing keys: by policy, by SVN; the architecture's refusals; the
 * PROVISION keys only with ATTRIBUTES.PROVISIONKEY. */
TEST(keys_seal_policies_svns_and_provision)
{
	struct sgx_core *core = rt_core(4096, false);
	static struct sgx_keyrequest req;
	uint8_t k[6][16], kb_signer[16], kb_encl[16];
	struct rt_encl a, b, p;

	rt_build(core, HEAP, 2, 0, &a);
	rt_build(core, 2 * HEAP, 2, 0, &b);
	rt_build(core, HEAP, 2, SGX_ATTR_PROVISIONKEY, &p);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 0);
	CHECK_EQ(egetkey(&a, &req, k[0]), 0);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRSIGNER, 0);
	CHECK_EQ(egetkey(&a, &req, k[1]), 0);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 1);
	CHECK_EQ(egetkey(&a, &req, k[2]), 0);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 2);
	CHECK_EQ(egetkey(&a, &req, k[3]), 0);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRSIGNER, 2);
	CHECK_EQ(egetkey(&a, &req, k[4]), 0);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_MRENCLAVE, 0);
	CHECK_EQ(egetkey(&a, &req, k[5]), 0);
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			CHECK_MSG(memcmp(k[i], k[j], 16) != 0, "keys %d and %d are equal", i, j);
	/* The same request twice gives the same key. */
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 1);
	CHECK_EQ(egetkey(&a, &req, kb_encl), 0);
	CHECK_MEM(kb_encl, k[2], 16);
	/* Another enclave of the same signer and SVN: the MRSIGNER key is
	 * shared, the MRENCLAVE key is not. */
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRSIGNER, 0);
	CHECK_EQ(egetkey(&b, &req, kb_signer), 0);
	CHECK_MEM(kb_signer, k[1], 16);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 0);
	CHECK_EQ(egetkey(&b, &req, kb_encl), 0);
	CHECK(memcmp(kb_encl, k[0], 16) != 0);

	/* SVN above the enclave's, CPUSVN above the machine's, a name that
	 * does not exist. */
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 3);
	CHECK_EQ(egetkey(&a, &req, k[0]), SGX_INVALID_ISVSVN);
	req = keyreq(SGX_KEYNAME_SEAL, SGX_KEYPOLICY_MRENCLAVE, 0);
	req.cpusvn[0] = 0xff;
	CHECK_EQ(egetkey(&a, &req, k[0]), SGX_INVALID_CPUSVN);
	req = keyreq(9, 0, 0);
	CHECK_EQ(egetkey(&a, &req, k[0]), SGX_INVALID_KEYNAME);

	/* PROVISION and PROVISION_SEAL: refused without the attribute. */
	req = keyreq(SGX_KEYNAME_PROVISION, 0, 0);
	CHECK_EQ(egetkey(&a, &req, k[0]), SGX_INVALID_ATTRIBUTE);
	req = keyreq(SGX_KEYNAME_PROVISION_SEAL, SGX_KEYPOLICY_MRSIGNER, 0);
	CHECK_EQ(egetkey(&a, &req, k[0]), SGX_INVALID_ATTRIBUTE);
	req = keyreq(SGX_KEYNAME_PROVISION, 0, 0);
	CHECK_EQ(egetkey(&p, &req, k[0]), 0);
	req = keyreq(SGX_KEYNAME_PROVISION_SEAL, SGX_KEYPOLICY_MRSIGNER, 0);
	CHECK_EQ(egetkey(&p, &req, k[1]), 0);
	CHECK(memcmp(k[0], k[1], 16) != 0);
	rt_destroy(&a);
	rt_destroy(&b);
	rt_destroy(&p);
	rt_finish(core);
}

/* Sealing inside: what one enclave seals under MRENCLAVE only it opens;
 * under MRSIGNER, its sibling opens it too; a changed blob opens nowhere. */
TEST(sealing_round_trip)
{
	struct sgx_core *core = rt_core(2048, false);
	static uint8_t data[SAMPLE_SEAL_DATA], out[SAMPLE_SEAL_DATA], blob[SAMPLE_SEAL_BLOB],
		blob2[SAMPLE_SEAL_BLOB];
	struct rt_encl a, b;

	rt_build(core, HEAP, 0, 0, &a);
	rt_build(core, 2 * HEAP, 0, 0, &b);
	for (int i = 0; i < SAMPLE_SEAL_DATA; i++)
		data[i] = (uint8_t)(i * 3 + 1);
	CHECK_EQ(rt_call(&a, 0, SAMPLE_OP_SEAL, (long)blob, (long)data, SGX_KEYPOLICY_MRENCLAVE), 0);
	CHECK(memcmp(blob + 40, data, SAMPLE_SEAL_DATA) != 0); /* enciphered */
	memset(out, 0, sizeof(out));
	CHECK_EQ(rt_call(&a, 3, SAMPLE_OP_UNSEAL, (long)out, (long)blob, 0), 0);
	CHECK_MEM(out, data, SAMPLE_SEAL_DATA);
	CHECK_EQ(rt_call(&b, 0, SAMPLE_OP_UNSEAL, (long)out, (long)blob, 0), SAMPLE_EBADMSG);
	memcpy(blob2, blob, sizeof(blob));
	blob2[50] ^= 1;
	CHECK_EQ(rt_call(&a, 0, SAMPLE_OP_UNSEAL, (long)out, (long)blob2, 0), SAMPLE_EBADMSG);

	CHECK_EQ(rt_call(&a, 1, SAMPLE_OP_SEAL, (long)blob2, (long)data, SGX_KEYPOLICY_MRSIGNER), 0);
	memset(out, 0, sizeof(out));
	CHECK_EQ(rt_call(&b, 2, SAMPLE_OP_UNSEAL, (long)out, (long)blob2, 0), 0);
	CHECK_MEM(out, data, SAMPLE_SEAL_DATA);
	/* Two seals of the same data differ (fresh KEYID). */
	CHECK(memcmp(blob, blob2, sizeof(blob)) != 0);
	rt_destroy(&a);
	rt_destroy(&b);
	rt_finish(core);
}

/* --- Threads that stay inside: busy TCS, kicks -------------------------- */

struct spinner {
	struct rt_encl *e;
	unsigned int tcs;
	volatile uint64_t started, stop;
	long result;
	int ret;
	uint32_t function;
	pthread_t th;
};

static void *spin_main(void *arg)
{
	struct spinner *s = arg;
	struct sgx_enclave_run run;

	s->result = rt_call_ex(s->e, s->tcs, SGX_ENCLU_EENTER, SAMPLE_OP_SPIN, (long)&s->started,
			       (long)&s->stop, 0, &run, &s->ret);
	s->function = run.function;
	return NULL;
}

static void spin_start(struct spinner *s, struct rt_encl *e, unsigned int tcs)
{
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->tcs = tcs;
	CHECK_EQ(pthread_create(&s->th, NULL, spin_main, s), 0);
	while (!__atomic_load_n(&s->started, __ATOMIC_ACQUIRE))
		usleep(100);
}

static void spin_stop(struct spinner *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	CHECK_EQ(pthread_join(s->th, NULL), 0);
	CHECK_EQ(s->ret, 0);
	CHECK_EQ(s->function, SGX_ENCLU_EEXIT);
	CHECK_GE(s->result, 0);
}

/* EENTER of a TCS another thread is inside: #GP, as on hardware. */
TEST(enter_busy_tcs_fails)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_enclave_run run;
	struct spinner s;
	struct rt_encl e;
	int ret;

	rt_build(core, HEAP, 0, 0, &e);
	spin_start(&s, &e, 2);
	(void)rt_call_ex(&e, 2, SGX_ENCLU_EENTER, SAMPLE_OP_ADD, 1, 1, 0, &run, &ret);
	CHECK_EQ(ret, 0);
	CHECK_EQ(run.function, SGX_ENCLU_EENTER);
	CHECK_EQ(run.exception_vector, X86_TRAP_GP);
	/* Other TCSs are free. */
	CHECK_EQ(rt_call(&e, 1, SAMPLE_OP_ADD, 1, 1, 0), 2);
	spin_stop(&s);
	CHECK_EQ(rt_call(&e, 2, SAMPLE_OP_ADD, 1, 1, 0), 2);
	rt_destroy(&e);
	rt_finish(core);
}

/* A kick makes a thread inside AEX and resume at once: the call goes on
 * and ends normally, the SSA frame is popped again. */
TEST(kick_aex_and_resume)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgxrt_stats before, after;
	struct spinner s[2];
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	spin_start(&s[0], &e, 0);
	spin_start(&s[1], &e, 3);
	sgxrt_stats(&before);
	for (int round = 0; round < 20; round++) {
		CHECK_EQ(sgxrt_kick_enclave(e.rt), 2);
		do {
			usleep(200);
			sgxrt_stats(&after);
		} while (after.eresumes - before.eresumes < 2 * (uint64_t)(round + 1));
	}
	CHECK_GE(after.aexs - before.aexs, 40);
	CHECK_EQ(tcs_cssa(&e, 0), 0);
	spin_stop(&s[0]);
	spin_stop(&s[1]);
	CHECK_EQ(sgxrt_kick_enclave(e.rt), 0); /* nobody inside */
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_TLS, 1, 0, 0), 1);
	rt_destroy(&e);
	rt_finish(core);
}

/* Write-back with threads inside: the core's ETRACK needs them out; its
 * kick (the enclave's kick hook) makes them AEX, so EWB succeeds at the
 * first wait instead of giving up. */
TEST(kick_lets_ewb_finish_while_threads_run)
{
	struct sgx_core *core = rt_core(1024, false);
	struct sgx_core_stats st;
	struct sgx_encl_page_info info;
	uint64_t off, word = 0;
	struct spinner s[2];
	int ret, gave_up = 0;
	struct rt_encl e;

	rt_build(core, HEAP, 0, 0, &e);
	CHECK_GE(rt_call(&e, 0, SAMPLE_OP_FILL, 99, HEAP, 0), 0);
	spin_start(&s[0], &e, 1);
	spin_start(&s[1], &e, 2);
	for (int i = 0; i < 8; i++) {
		off = e.image_end + (uint64_t)(HEAP - 1 - i) * SGX_PAGE_SIZE;
		/* A kicked thread the host does not schedule within the
		 * core's wait (20 ms; a loaded machine, a sanitizer) leaves
		 * the page for a later try; without kicks no try would work,
		 * the threads never leave by themselves. */
		for (int tries = 0; (ret = sgx_encl_evict(e.encl, off)) == -EAGAIN && tries < 20;
		     tries++)
			gave_up++;
		CHECK_EQ(ret, 0);
		CHECK_EQ(sgx_encl_page_info(e.encl, off, &info), 0);
		CHECK(!info.resident);
		sgxrt_enclave_invalidate(e.rt, off);
	}
	CHECK_EQ(sgx_core_stats(core, &st), 0);
	CHECK_GE(st.ewb_kicks, 8);
	if (gave_up)
		fprintf(stderr, "note: %d write-backs waited past one kick\n", gave_up);
	spin_stop(&s[0]);
	spin_stop(&s[1]);
	/* The pages come back right (through the core: this test maps no
	 * fault service). */
	off = e.image_end + (uint64_t)(HEAP - 1) * SGX_PAGE_SIZE;
	CHECK_EQ(sgx_encl_read(e.encl, off + 8, &word, 8), 0);
	CHECK_EQ(word, sample_pattern(99, HEAP - 1, 1));
	for (int i = 1; i < 8; i++)
		CHECK_EQ(sgx_encl_read(e.encl, e.image_end + (uint64_t)(HEAP - 1 - i) * SGX_PAGE_SIZE,
				       &word, 8), 0);
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_VERIFY, 99, HEAP, 0), HEAP);
	rt_destroy(&e);
	rt_finish(core);
}

/* A child of fork() enters the enclave it inherited (the same core and
 * mapping here, no machine) on a TCS the parent does not use, and its
 * FS/GS handling finds its own thread. */
TEST(child_of_fork_enters)
{
	struct sgx_core *core = rt_core(1024, false);
	struct rt_encl e;
	int status;
	pid_t pid;

	rt_build(core, HEAP, 0, 0, &e);
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_TLS, 1, 0, 0), 1);
	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		struct sgx_enclave_run run;
		int ret;
		long r = rt_call_ex(&e, 1, SGX_ENCLU_EENTER, SAMPLE_OP_TLS, 7, 0, 0, &run, &ret);

		if (ret || run.function != SGX_ENCLU_EEXIT || r != 7)
			_exit(1);
		r = rt_call_ex(&e, 1, SGX_ENCLU_EENTER, SAMPLE_OP_ADD, 2, 3, 0, &run, &ret);
		_exit(ret || r != 5 ? 2 : 0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	CHECK_EQ(rt_call(&e, 0, SAMPLE_OP_TLS, 1, 0, 0), 2);
	rt_destroy(&e);
	rt_finish(core);
}

/* --- ENCLU EENTER by the program itself (no enter function) ------------- */

/*
 * A loader's own entry, as Fortanix's and Gramine's: RBX the TCS, RCX the
 * AEP, which is the ENCLU itself (after an AEX, RAX = ERESUME resumes);
 * EEXIT returns after it.  direct_call(tcs, op, a1, a2, a3) returns RDX.
 */
long direct_call(uint64_t tcs, long op, long a1, long a2, long a3);
extern char direct_aep[];
__asm__(".pushsection .text\n"
	".globl direct_call\n"
	".type direct_call, @function\n"
	"direct_call:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	lea direct_aep(%rip), %rcx\n"
	"	mov $2, %eax\n"
	".globl direct_aep\n"
	"direct_aep:\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"	mov %rdx, %rax\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size direct_call, . - direct_call\n"
	".popsection\n");

static volatile int program_traps;
static volatile uint64_t program_trap_rip, program_trap_rax;

/* The program's own SIGTRAP handler, installed before the runtime's: it
 * sees the exception after the AEX, at its AEP, and returns to resume. */
static void program_sigtrap(int signo, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;

	program_traps++;
	program_trap_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	program_trap_rax = (uint64_t)uc->uc_mcontext.gregs[REG_RAX];
}

TEST(program_enters_with_its_own_enclu)
{
	struct sigaction sa = { .sa_sigaction = program_sigtrap, .sa_flags = SA_SIGINFO };
	struct sgx_core *core;
	struct sgxrt_stats before, after;
	struct rt_encl e;

	CHECK_EQ(sigaction(SIGTRAP, &sa, NULL), 0);
	core = rt_core(1024, false);
	rt_build(core, HEAP, 0, 0, &e);
	sgxrt_stats(&before);
	CHECK_EQ(direct_call(rt_tcs(&e, 0), SAMPLE_OP_ADD, 20, 22, 0), 42);
	CHECK_EQ(direct_call(rt_tcs(&e, 3), SAMPLE_OP_TLS, 4, 0, 0), 4);
	CHECK_EQ(host_tls_word, 12345);
	/* int3 inside: AEX, the program's handler at the AEP with RAX =
	 * ERESUME, then the ENCLU there resumes and the call finishes. */
	CHECK_EQ(direct_call(rt_tcs(&e, 1), SAMPLE_OP_FAULT, SAMPLE_FAULT_INT3, 0, 0),
		 SAMPLE_FAULT_INT3);
	CHECK_EQ(program_traps, 1);
	CHECK_EQ(program_trap_rip, (uint64_t)(uintptr_t)direct_aep);
	CHECK_EQ(program_trap_rax, ERESUME);
	CHECK_EQ(tcs_cssa(&e, 1), 0);
	sgxrt_stats(&after);
	CHECK_EQ(after.eenters - before.eenters, 3);
	CHECK_EQ(after.eresumes - before.eresumes, 1);
	CHECK_EQ(after.eexits - before.eexits, 3);
	/* And the enter function still works beside it. */
	CHECK_EQ(rt_call(&e, 2, SAMPLE_OP_ADD, 1, 1, 0), 2);
	rt_destroy(&e);
	rt_finish(core);
}

/* The program's own asynchronous signal to a thread inside: held while it
 * is inside (its handler would run on the enclave's FS), delivered once
 * it is out (here at the AEP after a kick's AEX), where the handler finds
 * the host's TLS. */
static _Atomic int usr1_runs;
static _Atomic long usr1_tls;

static void program_sigusr1(int signo)
{
	int saved = errno;

	atomic_store(&usr1_tls, host_tls_word);
	atomic_fetch_add(&usr1_runs, 1);
	errno = saved;
}

TEST(program_signal_waits_for_the_exit)
{
	struct sigaction sa = { .sa_handler = program_sigusr1 };
	struct sgx_core *core = rt_core(1024, false);
	struct spinner s;
	struct rt_encl e;

	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	rt_build(core, HEAP, 0, 0, &e);
	spin_start(&s, &e, 0);
	CHECK_EQ(pthread_kill(s.th, SIGUSR1), 0);
	usleep(20000);
	CHECK_EQ(usr1_runs, 0);
	/* A kick: the AEX leaves the enclave, the signal is delivered at the
	 * AEP (host code, host FS) before the ERESUME, as after an interrupt
	 * on hardware; the call then goes on. */
	CHECK_EQ(sgxrt_kick_enclave(e.rt), 1);
	for (int i = 0; i < 2000 && !usr1_runs; i++)
		usleep(1000);
	CHECK_EQ(usr1_runs, 1);
	CHECK_EQ(usr1_tls, 12345);
	spin_stop(&s);
	CHECK_EQ(usr1_runs, 1);
	rt_destroy(&e);
	rt_finish(core);
}
