/*
 * test_conflict.c: what each leaf answers when another leaf holds one of
 * its EPC page operands, against the "Concurrency Restrictions" table of
 * the leaf's page in the SDM.
 *
 * Conflicts are made deterministic with sgx_cpu_inject_conflict(): the
 * frame behaves, for the next leaf that meets it, as if another leaf were
 * working on it (an exclusive holder), so every "Shared" and "Exclusive"
 * operand conflicts, and an implicit SECS (the tables' "Concurrent") does
 * not.  Each row checks the answer, that the leaf met the injection (or,
 * for a Concurrent operand, that it did not), and that the same leaf then
 * succeeds, so the conflict and nothing else made the difference.
 */
#include <errno.h>

#include "harness.h"
#include "paging_helpers.h"

struct fx {
	struct sgx_cpu *cpu;
	struct p_encl b; /* being built: 1 TCS, 1 REG */
	struct p_encl r; /* initialized, debug: 1 TCS, 2 REG */
	struct p_encl c; /* built, to be initialized by the EINIT row */
	struct sgx_sigstruct *c_sig;
	void *va;
	void *free; /* the free frame the current row's leaf fills */
	void *added; /* the page the EADD row added to b */
	struct p_out out; /* r.reg[0], once the EWB row wrote it back */
	struct sgx_cpu_thread thread;
};

static int do_ecreate(struct fx *f)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	struct t_spec spec = p_spec(9);
	uint8_t *src = t_page_alloc();
	int ret;

	t_secs_of(&spec, (struct sgx_secs *)src);
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	ret = encls_ecreate(f->cpu, &pginfo, f->free);
	free(src);
	return ret;
}

static int do_eadd(struct fx *f)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	};
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	uint8_t *src = t_page_alloc();
	int ret;

	pginfo.addr = T_ENCL_BASE + 5 * 4096;
	pginfo.contents = (uintptr_t)src;
	pginfo.metadata = (uintptr_t)&secinfo;
	pginfo.secs = (uintptr_t)f->b.secs;
	ret = encls_eadd(f->cpu, &pginfo, f->free);
	if (ret == 0)
		f->added = f->free;
	free(src);
	return ret;
}

static int do_eextend(struct fx *f)
{
	return encls_eextend(f->cpu, f->b.secs, (uint8_t *)f->b.reg[0] + 256);
}

static int do_einit(struct fx *f)
{
	return t_einit_kernel(f->cpu, f->c_sig, f->c.secs);
}

static int do_eremove(struct fx *f)
{
	return encls_eremove(f->cpu, f->added);
}

static int do_edbgrd(struct fx *f)
{
	uint64_t v;

	return encls_edbgrd(f->cpu, (uint8_t *)f->r.reg[1] + 64, &v);
}

static int do_edbgwr(struct fx *f)
{
	return encls_edbgwr(f->cpu, (uint8_t *)f->r.reg[1] + 64, 0x5a5a5a5a5a5a5a5aULL);
}

static int do_epa(struct fx *f)
{
	return encls_epa(f->cpu, f->free);
}

static int do_eblock(struct fx *f)
{
	return encls_eblock(f->cpu, f->r.reg[0]);
}

static int do_etrack(struct fx *f)
{
	return encls_etrack(f->cpu, f->r.secs);
}

static int do_ewb(struct fx *f)
{
	int ret = p_ewb(f->cpu, f->r.reg[0], p_slot(f->va, 0), &f->out);

	f->out.linaddr = p_reg_addr(&f->r, 0);
	f->out.secs = f->r.secs;
	return ret;
}

static int do_eldu(struct fx *f)
{
	return p_eld(f->cpu, &f->out, f->free, false);
}

static int do_eenter(struct fx *f)
{
	return sgx_cpu_thread_enter(f->cpu, &f->thread, f->r.tcs[0]);
}

/* Where a row injects its conflict. */
enum at {
	AT_FREE, /* the free frame the leaf fills (f->free, found anew) */
	AT_B_SECS,
	AT_B_REG0,
	AT_C_SECS,
	AT_ADDED,
	AT_R_SECS,
	AT_R_REG0,
	AT_R_REG1,
	AT_R_TCS0,
	AT_VA,
};

static void *at_frame(struct fx *f, enum at at)
{
	switch (at) {
	case AT_FREE:
		return f->free;
	case AT_B_SECS:
		return f->b.secs;
	case AT_B_REG0:
		return f->b.reg[0];
	case AT_C_SECS:
		return f->c.secs;
	case AT_ADDED:
		return f->added;
	case AT_R_SECS:
		return f->r.secs;
	case AT_R_REG0:
		return f->r.reg[0];
	case AT_R_REG1:
		return f->r.reg[1];
	case AT_R_TCS0:
		return f->r.tcs[0];
	case AT_VA:
		return f->va;
	}
	return NULL;
}

/*
 * The rows, in the order they run (each leaves what the next ones need:
 * EBLOCK and ETRACK before EWB, EWB before ELDU).  `conflict` is the
 * answer the table gives, or 0 for a Concurrent operand, whose leaf runs
 * as if nothing held it; such a row comes last for its leaf and is that
 * leaf's successful run.  A leaf without one runs again cleanly after its
 * last row.
 */
static const struct row {
	const char *leaf, *operand, *table;
	int (*run)(struct fx *f);
	enum at at;
	enum sgx_conflict_kind kind;
	int conflict;
} rows[] = {
	{ "ECREATE", "SECS [DS:RCX]", "Exclusive, #GP", do_ecreate, AT_FREE, SGX_CONFLICT_PAGE, GP },
	{ "EADD", "SECS [PAGEINFO.SECS]", "Shared, #GP", do_eadd, AT_B_SECS, SGX_CONFLICT_PAGE, GP },
	{ "EADD", "Target [DS:RCX]", "Exclusive, #GP", do_eadd, AT_FREE, SGX_CONFLICT_PAGE, GP },
	{ "EEXTEND", "Target [DS:RCX]", "Shared, #GP", do_eextend, AT_B_REG0, SGX_CONFLICT_PAGE, GP },
	{ "EEXTEND", "SECS [DS:RBX]", "Concurrent", do_eextend, AT_B_SECS, SGX_CONFLICT_PAGE, 0 },
	{ "EINIT", "SECS [DS:RCX]", "Shared, #GP", do_einit, AT_C_SECS, SGX_CONFLICT_PAGE, GP },
	{ "EREMOVE", "Target [DS:RCX]", "Exclusive, #GP", do_eremove, AT_ADDED, SGX_CONFLICT_PAGE, GP },
	{ "EDBGRD", "Target [DS:RCX]", "Shared, #GP", do_edbgrd, AT_R_REG1, SGX_CONFLICT_PAGE, GP },
	{ "EDBGWR", "Target [DS:RCX]", "Shared, #GP", do_edbgwr, AT_R_REG1, SGX_CONFLICT_PAGE, GP },
	{ "EPA", "VA [DS:RCX]", "Exclusive, #GP", do_epa, AT_FREE, SGX_CONFLICT_PAGE, GP },
	{ "EBLOCK", "Target [DS:RCX]", "Shared, SGX_EPC_PAGE_CONFLICT", do_eblock, AT_R_REG0,
	  SGX_CONFLICT_PAGE, SGX_EPC_PAGE_CONFLICT },
	{ "EBLOCK", "SECS (implicit)", "Concurrent", do_eblock, AT_R_SECS, SGX_CONFLICT_PAGE, 0 },
	{ "ETRACK", "SECS [DS:RCX]", "Shared, #GP", do_etrack, AT_R_SECS, SGX_CONFLICT_PAGE, GP },
	{ "ETRACK", "SECS [DS:RCX] vs. ETRACK", "Exclusive, SGX_EPC_PAGE_CONFLICT", do_etrack,
	  AT_R_SECS, SGX_CONFLICT_TRACKING, SGX_EPC_PAGE_CONFLICT },
	{ "EWB", "VA [DS:RDX]", "Shared, #GP", do_ewb, AT_VA, SGX_CONFLICT_PAGE, GP },
	{ "EWB", "Source [DS:RCX]", "Exclusive, #GP", do_ewb, AT_R_REG0, SGX_CONFLICT_PAGE, GP },
	{ "EWB", "SECS (implicit)", "Concurrent", do_ewb, AT_R_SECS, SGX_CONFLICT_PAGE, 0 },
	{ "ELDU", "VA [DS:RDX]", "Shared, #GP", do_eldu, AT_VA, SGX_CONFLICT_PAGE, GP },
	{ "ELDU", "SECS [PAGEINFO.SECS]", "Shared, #GP", do_eldu, AT_R_SECS, SGX_CONFLICT_PAGE, GP },
	{ "ELDU", "Target [DS:RCX]", "Exclusive, #GP", do_eldu, AT_FREE, SGX_CONFLICT_PAGE, GP },
	{ "EENTER", "TCS [DS:RBX]", "Shared, #GP", do_eenter, AT_R_TCS0, SGX_CONFLICT_PAGE, GP },
	{ "EENTER", "SECS (implicit)", "Concurrent", do_eenter, AT_R_SECS, SGX_CONFLICT_PAGE, 0 },
};

static void fx_setup(struct fx *f)
{
	struct t_spec spec = p_spec(3);
	struct sgx_sign_params p = t_params(&spec);
	EVP_PKEY *key = t_key_fixed();
	uint8_t mrenclave[32];

	memset(f, 0, sizeof(*f));
	f->cpu = p_machine();
	p_build(f->cpu, 1, 1, 1, false, &f->b);
	p_build(f->cpu, 1, 2, 2, true, &f->r);
	p_build(f->cpu, 1, 1, 3, false, &f->c);
	p_measure(&f->c, mrenclave);
	f->c_sig = t_sign(key, &p, mrenclave);
	EVP_PKEY_free(key);
	f->va = p_va(f->cpu);
	p_out_alloc(&f->out);
}

/* The SDM's table for each operand, one row at a time. */
TEST(each_leaf_answers_a_conflict_as_its_table_says)
{
	struct fx f;

	fx_setup(&f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		bool last = i + 1 == sizeof(rows) / sizeof(rows[0]) || rows[i + 1].run != r->run;
		void *frame;
		int ret, left;

		f.free = t_free_frame(f.cpu);
		frame = at_frame(&f, r->at);
		CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, frame, r->kind, 1), 0);
		ret = r->run(&f);
		left = sgx_cpu_inject_conflict(f.cpu, frame, r->kind, 0);
		CHECK_MSG(ret == r->conflict, "%s, %s (%s): got %s (%#x), want %s (%#x)", r->leaf,
			  r->operand, r->table, sgx_error_name(ret), ret, sgx_error_name(r->conflict),
			  r->conflict);
		/* A Concurrent operand does not see the other leaf at all. */
		CHECK_MSG(left == (r->conflict ? 0 : 1), "%s, %s: %d injected conflicts left, want %d",
			  r->leaf, r->operand, left, r->conflict ? 0 : 1);
		if (r->conflict == 0 && r->run == do_eenter)
			sgx_cpu_thread_exit(f.cpu, &f.thread);
		if (!last || r->conflict == 0)
			continue;
		/* Nothing else stood in the way: the same leaf now succeeds. */
		ret = r->run(&f);
		CHECK_MSG(ret == 0, "%s after the conflict: got %s (%#x), want SGX_SUCCESS", r->leaf,
			  sgx_error_name(ret), ret);
		if (r->run == do_eenter)
			sgx_cpu_thread_exit(f.cpu, &f.thread);
	}
	free(f.c_sig);
	p_out_free(&f.out);
	p_teardown(f.cpu);
}

/* A conflict leaves the page as it was: an EWB refused for its VA page
 * writes nothing, keeps the page resident and blocked, and takes no slot. */
TEST(a_refused_leaf_changes_nothing)
{
	struct sgx_epcm_info before, after;
	struct fx f;

	fx_setup(&f);
	CHECK_SGX(encls_eblock(f.cpu, f.r.reg[0]), 0);
	CHECK_SGX(encls_etrack(f.cpu, f.r.secs), 0);
	p_info(f.cpu, f.r.reg[0], &before);
	memset(f.out.contents, 0xee, 4096);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, f.va, SGX_CONFLICT_PAGE, 1), 0);
	CHECK_SGX(do_ewb(&f), GP);
	p_info(f.cpu, f.r.reg[0], &after);
	p_check_same_info(&before, &after);
	CHECK_EQ(*p_slot(sgx_cpu_frame_bytes(f.cpu, f.va), 0), 0);
	for (unsigned int k = 0; k < 4096; k++)
		CHECK_EQ(f.out.contents[k], 0xee);
	CHECK_SGX(do_ewb(&f), 0);
	free(f.c_sig);
	p_out_free(&f.out);
	p_teardown(f.cpu);
}

/* Injections count leaves, so a caller's retries can be counted: three
 * EBLOCKs answer the conflict, the fourth blocks the page. */
TEST(injected_conflicts_count_down)
{
	struct fx f;

	fx_setup(&f);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, f.r.reg[0], SGX_CONFLICT_PAGE, 3), 0);
	for (int i = 0; i < 3; i++)
		CHECK_SGX(encls_eblock(f.cpu, f.r.reg[0]), SGX_EPC_PAGE_CONFLICT);
	CHECK_SGX(encls_eblock(f.cpu, f.r.reg[0]), 0);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, f.r.reg[0], SGX_CONFLICT_PAGE, 0), 0);
	CHECK_EQ(sgx_cpu_inject_conflict(f.cpu, f.out.contents, SGX_CONFLICT_PAGE, 1), -EINVAL);
	free(f.c_sig);
	p_out_free(&f.out);
	p_teardown(f.cpu);
}
