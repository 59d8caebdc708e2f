/*
 * test_paging.c: the paging leaves (EPA, EBLOCK, ETRACK, EWB, ELDU, ELDB)
 * and the thread tracking they rely on, against the SDM's state machine:
 * each rule with the exact code or fault it answers, full write-back and
 * load cycles of REG, TCS, SECS and VA pages restoring the same bytes and
 * EPCM state, and threads inside the enclave holding up EWB and ETRACK.
 * Every case ends by EREMOVEing everything and checking the EPC is empty.
 */
#include <pthread.h>
#include <sched.h>

#include "sgxemu/cpu.h"
#include "harness.h"
#include "paging_helpers.h"

/* Ordinary memory, where the architecture wants an EPC page. */
static uint8_t outside[4096] __attribute__((aligned(4096)));

static void page_snapshot(const void *epc, uint8_t out[4096])
{
	memcpy(out, epc, 4096);
}

static uint64_t pcmd_type(const struct sgx_pcmd *pcmd)
{
	return (pcmd->secinfo.flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

TEST(epa_makes_zeroed_va_page)
{
	struct sgx_cpu *cpu = p_machine();
	void *f = sgx_cpu_frame_addr(cpu, 3);
	struct sgx_epcm_info info;

	memset(f, 0xA5, 4096); /* stale bytes of an earlier owner */
	CHECK_SGX(encls_epa(cpu, f), 0);
	p_info(cpu, f, &info);
	CHECK(info.valid);
	CHECK_EQ(info.type, SGX_PAGE_TYPE_VA);
	CHECK_EQ(info.perms, 0);
	CHECK_EQ(info.enclave_id, 0);
	CHECK(all_zero(f, 4096));
	/* A valid page cannot become a VA page; operands as for any EPC page. */
	CHECK_SGX(encls_epa(cpu, f), PF);
	CHECK_SGX(encls_epa(cpu, (uint8_t *)sgx_cpu_frame_addr(cpu, 4) + 8), GP);
	CHECK_SGX(encls_epa(cpu, outside), PF);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 1);
	p_teardown(cpu);
}

TEST(eblock_codes)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 2, 1, false, &e);
	va = p_va(cpu);
	CHECK_SGX(encls_eblock(cpu, t_free_frame(cpu)), SGX_PG_INVLD);
	CHECK_SGX(encls_eblock(cpu, e.secs), SGX_PG_IS_SECS);
	CHECK_SGX(encls_eblock(cpu, va), SGX_NOTBLOCKABLE);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), 0);
	p_info(cpu, e.reg[0], &info);
	CHECK(info.blocked);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), SGX_BLKSTATE);
	CHECK_SGX(encls_eblock(cpu, e.tcs[0]), 0);
	CHECK_SGX(encls_eblock(cpu, e.tcs[0]), SGX_BLKSTATE);
	p_info(cpu, e.reg[1], &info);
	CHECK(!info.blocked);
	CHECK_SGX(encls_eblock(cpu, (uint8_t *)e.reg[1] + 64), GP);
	CHECK_SGX(encls_eblock(cpu, outside), PF);
	p_teardown(cpu);
}

TEST(etrack_operand_and_epochs)
{
	struct sgx_cpu *cpu = p_machine();
	struct p_encl e;

	p_build(cpu, 1, 1, 2, false, &e);
	CHECK_SGX(encls_etrack(cpu, e.reg[0]), PF); /* not a SECS */
	CHECK_SGX(encls_etrack(cpu, t_free_frame(cpu)), PF);
	CHECK_SGX(encls_etrack(cpu, (uint8_t *)e.secs + 8), GP);
	CHECK_SGX(encls_etrack(cpu, outside), PF);
	/* With no thread inside, every ETRACK completes at once. */
	for (int i = 0; i < 5; i++)
		CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	p_teardown(cpu);
}

/* EBLOCK -> ETRACK -> EWB -> ELDU gives back the same bytes and EPCM state,
 * and the slot holds the version only while the page is out. */
TEST(full_cycle_restores_page)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info before, after;
	uint8_t snap[4096], want[4096];
	struct p_out o;
	struct p_encl e;
	uint64_t *slot;
	void *va;

	p_build(cpu, 1, 3, 3, false, &e);
	va = p_va(cpu);
	slot = p_slot(va, 17);
	p_info(cpu, e.reg[1], &before);
	page_snapshot(e.reg[1], snap);
	p_reg_contents(3, 1, want);
	CHECK_MEM(snap, want, 4096);

	p_out_alloc(&o);
	CHECK_SGX(encls_eblock(cpu, e.reg[1]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[1], slot, &o), 0);
	o.linaddr = before.linaddr;
	o.secs = e.secs;
	p_info(cpu, e.reg[1], &after);
	CHECK(!after.valid);
	CHECK_NE(*slot, 0);
	CHECK(memcmp(o.contents, snap, 4096) != 0); /* encrypted */
	/* PCMD as the SDM writes it: SECINFO from the EPCM, the enclave's
	 * EID as a handle, reserved zero. */
	CHECK_EQ(o.pcmd->secinfo.flags, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
	CHECK(all_zero(o.pcmd->secinfo.reserved, sizeof(o.pcmd->secinfo.reserved)));
	CHECK_EQ(o.pcmd->enclave_id, before.enclave_id);
	CHECK_NE(o.pcmd->enclave_id, 0);
	CHECK(all_zero(o.pcmd->reserved, sizeof(o.pcmd->reserved)));
	/* The SECS now has one child fewer: EREMOVE of it still refuses. */
	CHECK_SGX(encls_eremove(cpu, e.secs), SGX_CHILD_PRESENT);

	CHECK_SGX(p_eld(cpu, &o, e.reg[1], false), 0);
	CHECK_EQ(*slot, 0);
	p_info(cpu, e.reg[1], &after);
	before.blocked = false;
	p_check_same_info(&before, &after);
	CHECK_MEM(e.reg[1], snap, 4096);
	/* Loaded into another frame, the page is the same page. */
	CHECK_SGX(encls_eblock(cpu, e.reg[1]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[1], slot, &o), 0);
	{
		void *other = t_free_frame(cpu);

		CHECK_SGX(p_eld(cpu, &o, other, false), 0);
		p_info(cpu, other, &after);
		p_check_same_info(&before, &after);
		CHECK_MEM(other, snap, 4096);
	}
	p_out_free(&o);
	p_teardown(cpu);
}

/* Each machine has its own paging key: a thread that pages on two
 * machines re-keys its contexts, and a page of one never loads on the
 * other, though EIDs, addresses and versions coincide. */
TEST(two_machines_one_thread)
{
	struct sgx_cpu *m[2] = { p_machine(), p_machine() };
	struct p_encl e[2];
	struct p_out o[2];
	uint8_t want[4096];
	void *va[2];

	for (int i = 0; i < 2; i++) {
		CHECK_EQ(sgx_cpu_paging_prepare(m[i]), 0);
		p_build(m[i], 0, 1, 0x30, false, &e[i]); /* same layout, same EID */
		va[i] = p_va(m[i]);
		p_out_alloc(&o[i]);
	}
	for (int i = 0; i < 2; i++)
		p_evict_child(m[i], e[i].secs, e[i].reg[0], p_slot(va[i], 0), &o[i]);
	CHECK_EQ(*o[0].slot, *o[1].slot); /* same version number */
	CHECK_EQ(o[0].pcmd->enclave_id, o[1].pcmd->enclave_id);
	{
		struct p_out cross;

		p_out_copy(&cross, &o[1]);
		cross.slot = o[0].slot;
		cross.secs = e[0].secs;
		CHECK_SGX(p_eld(m[0], &cross, e[0].reg[0], false), SGX_MAC_COMPARE_FAIL);
		p_out_free(&cross);
	}
	p_reg_contents(0x30, 0, want);
	for (int i = 1; i >= 0; i--) {
		CHECK_SGX(p_eld(m[i], &o[i], e[i].reg[0], false), 0);
		CHECK_MEM(e[i].reg[0], want, 4096);
		p_out_free(&o[i]);
	}
	t_teardown(m[1]);
	p_teardown(m[0]);
}

TEST(tcs_cycle)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info before, after;
	uint8_t snap[4096];
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 2, 1, 4, false, &e);
	va = p_va(cpu);
	p_info(cpu, e.tcs[1], &before);
	page_snapshot(e.tcs[1], snap);
	p_out_alloc(&o);
	p_evict_child(cpu, e.secs, e.tcs[1], p_slot(va, 0), &o);
	CHECK_EQ(pcmd_type(o.pcmd), SGX_PAGE_TYPE_TCS);
	CHECK_SGX(p_eld(cpu, &o, e.tcs[1], false), 0);
	p_info(cpu, e.tcs[1], &after);
	before.blocked = false;
	p_check_same_info(&before, &after);
	CHECK_MEM(e.tcs[1], snap, 4096);
	p_out_free(&o);
	p_teardown(cpu);
}

TEST(ewb_needs_blocked_page)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 1, 5, false, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), SGX_PAGE_NOT_BLOCKED);
	CHECK_SGX(p_ewb(cpu, e.tcs[0], p_slot(va, 0), &o), SGX_PAGE_NOT_BLOCKED);
	p_info(cpu, e.reg[0], &info);
	CHECK(info.valid);
	CHECK_EQ(*p_slot(va, 0), 0);
	p_out_free(&o);
	p_teardown(cpu);
}

/* Blocked but no ETRACK since: SGX_NOT_TRACKED until one runs. */
TEST(ewb_needs_etrack_after_block)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 2, 6, false, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0); /* before the block: no help */
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), SGX_NOT_TRACKED);
	p_info(cpu, e.reg[0], &info);
	CHECK(info.valid && info.blocked);
	CHECK_EQ(*p_slot(va, 0), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), 0);
	/* A page blocked after that ETRACK needs another. */
	CHECK_SGX(encls_eblock(cpu, e.reg[1]), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[1], p_slot(va, 1), &o), SGX_NOT_TRACKED);
	/* Two ETRACKs after the block are as good as one. */
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[1], p_slot(va, 1), &o), 0);
	p_out_free(&o);
	p_teardown(cpu);
}

TEST(ewb_operand_faults)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	struct sgx_epcm_info info;
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 1, 7, false, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	pginfo.contents = (uintptr_t)o.contents;
	pginfo.metadata = (uintptr_t)o.pcmd;

	pginfo.addr = T_ENCL_BASE;
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), GP);
	pginfo.addr = 0;
	pginfo.secs = (uintptr_t)e.secs;
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), GP);
	pginfo.secs = 0;
	CHECK_SGX(encls_ewb(cpu, (void *)((uint8_t *)&pginfo + 8), e.reg[0], p_slot(va, 0)), GP);
	CHECK_SGX(encls_ewb(cpu, NULL, e.reg[0], p_slot(va, 0)), PF);
	CHECK_SGX(encls_ewb(cpu, &pginfo, (uint8_t *)e.reg[0] + 8, p_slot(va, 0)), GP);
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], (uint8_t *)va + 4), GP);
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], o.contents), PF); /* slot outside EPC */
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], (uint64_t *)e.reg[0] + 1), GP); /* same page */
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], (uint64_t *)e.tcs[0] + 1), PF); /* not VA */
	CHECK_SGX(encls_ewb(cpu, &pginfo, t_free_frame(cpu), p_slot(va, 0)), PF); /* invalid */
	pginfo.contents = (uintptr_t)o.contents + 64;
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), GP);
	pginfo.contents = (uintptr_t)o.contents;
	pginfo.metadata = (uintptr_t)o.pcmd + 64;
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), GP);
	pginfo.metadata = (uintptr_t)e.tcs[0]; /* output inside the EPC */
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), PF);
	pginfo.metadata = (uintptr_t)o.pcmd;
	pginfo.contents = 0;
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), PF);
	pginfo.contents = (uintptr_t)o.contents;

	/* None of that changed anything. */
	p_info(cpu, e.reg[0], &info);
	CHECK(info.valid && info.blocked);
	CHECK(all_zero(va, 4096));
	CHECK_SGX(encls_ewb(cpu, &pginfo, e.reg[0], p_slot(va, 0)), 0);
	p_out_free(&o);
	p_teardown(cpu);
}

TEST(eld_operand_faults_change_nothing)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	struct p_out o, bad;
	struct p_encl e, other;
	uint64_t version, nr_valid;
	void *va, *dst;

	p_build(cpu, 1, 2, 8, false, &e);
	p_build(cpu, 1, 1, 9, false, &other);
	va = p_va(cpu);
	p_out_alloc(&o);
	p_evict_child(cpu, e.secs, e.reg[0], p_slot(va, 3), &o);
	version = *o.slot;
	dst = t_free_frame(cpu);
	nr_valid = sgx_cpu_nr_valid(cpu);

	CHECK_SGX(p_eld(cpu, &o, e.reg[1], false), PF); /* destination valid */
	p_out_copy(&bad, &o);
	bad.slot = (uint64_t *)((uint8_t *)o.slot + 4);
	CHECK_SGX(p_eld(cpu, &bad, dst, false), GP);
	bad.slot = (uint64_t *)e.reg[1] + 3; /* not a VA page */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), PF);
	bad.slot = (uint64_t *)o.contents;
	CHECK_SGX(p_eld(cpu, &bad, dst, false), PF);
	bad.slot = o.slot;
	bad.secs = NULL; /* a REG page needs its SECS */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), PF);
	bad.secs = e.reg[1]; /* not a SECS */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), PF);
	bad.secs = (uint8_t *)e.secs + 64;
	CHECK_SGX(p_eld(cpu, &bad, dst, false), GP);
	bad.secs = dst; /* the destination itself */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), PF);
	bad.secs = other.secs; /* another enclave: the MAC binds the EID */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), SGX_MAC_COMPARE_FAIL);
	bad.secs = e.secs;
	bad.linaddr += 4096; /* another address */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), SGX_MAC_COMPARE_FAIL);
	bad.linaddr = o.linaddr;
	{
		struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };

		pginfo.addr = o.linaddr;
		pginfo.contents = (uintptr_t)o.contents;
		pginfo.metadata = (uintptr_t)o.pcmd + 32;
		pginfo.secs = (uintptr_t)e.secs;
		CHECK_SGX(encls_eldu(cpu, &pginfo, dst, o.slot), GP);
		pginfo.metadata = (uintptr_t)o.pcmd;
		pginfo.contents = (uintptr_t)o.contents + 512;
		CHECK_SGX(encls_eldu(cpu, &pginfo, dst, o.slot), GP);
		pginfo.contents = 0;
		CHECK_SGX(encls_eldu(cpu, &pginfo, dst, o.slot), PF);
		pginfo.contents = (uintptr_t)e.reg[1]; /* source inside the EPC */
		CHECK_SGX(encls_eldu(cpu, &pginfo, dst, o.slot), PF);
	}
	/* An empty slot holds no version: nothing can be loaded with it. */
	bad.slot = p_slot(va, 4);
	CHECK_SGX(p_eld(cpu, &bad, dst, false), SGX_MAC_COMPARE_FAIL);
	/* A SECS operand for a REG page is required; one for a page the PCMD
	 * says is a VA page is refused before any MAC. */
	bad.slot = o.slot;
	bad.pcmd->secinfo.flags = SGX_SECINFO_VA;
	CHECK_SGX(p_eld(cpu, &bad, dst, false), GP);
	bad.pcmd->secinfo.flags = 7ULL << SGX_SECINFO_PAGE_TYPE_SHIFT; /* no such type */
	CHECK_SGX(p_eld(cpu, &bad, dst, false), GP);

	/* Nothing changed: the slot, the destination, the count. */
	CHECK_EQ(*o.slot, version);
	p_info(cpu, dst, &info);
	CHECK(!info.valid);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), nr_valid);
	CHECK_SGX(p_eld(cpu, &o, dst, false), 0);
	CHECK_EQ(*o.slot, 0);
	{
		uint8_t want[4096];

		p_reg_contents(8, 0, want);
		CHECK_MEM(dst, want, 4096);
	}
	/* The slot is free: the same copy cannot be loaded twice. */
	CHECK_SGX(encls_eremove(cpu, dst), 0);
	CHECK_SGX(p_eld(cpu, &o, dst, false), SGX_MAC_COMPARE_FAIL);
	p_out_free(&bad);
	p_out_free(&o);
	p_teardown(cpu);
}

/* ELDB loads the page blocked; writing it back again needs an ETRACK after
 * the load, as after an EBLOCK. */
TEST(eldb_leaves_page_blocked)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info before, after;
	uint8_t snap[4096];
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 1, 10, false, &e);
	va = p_va(cpu);
	p_info(cpu, e.reg[0], &before);
	page_snapshot(e.reg[0], snap);
	p_out_alloc(&o);
	p_evict_child(cpu, e.secs, e.reg[0], p_slot(va, 0), &o);
	CHECK_SGX(p_eld(cpu, &o, e.reg[0], true), 0);
	p_info(cpu, e.reg[0], &after);
	CHECK(after.blocked);
	before.blocked = true;
	p_check_same_info(&before, &after);
	CHECK_MEM(e.reg[0], snap, 4096);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), SGX_BLKSTATE);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), SGX_NOT_TRACKED);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), 0);
	/* ELDU of the same write-back comes back unblocked. */
	CHECK_SGX(p_eld(cpu, &o, e.reg[0], false), 0);
	p_info(cpu, e.reg[0], &after);
	CHECK(!after.blocked);
	p_out_free(&o);
	p_teardown(cpu);
}

/* A SECS goes out only without children, and comes back before them. */
TEST(secs_writeback_and_reload)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info secs_before, secs_after, info[3], again;
	uint8_t snap[3][4096], secs_snap[4096];
	struct p_out o[3], so;
	struct p_encl e;
	void *va, *new_secs;

	p_build(cpu, 1, 2, 11, false, &e);
	va = p_va(cpu);
	p_info(cpu, e.secs, &secs_before);
	CHECK_EQ(secs_before.type, SGX_PAGE_TYPE_SECS);
	p_out_alloc(&so);
	CHECK_SGX(p_ewb(cpu, e.secs, p_slot(va, 100), &so), SGX_CHILD_PRESENT);
	CHECK_EQ(*p_slot(va, 100), 0);

	void *pages[3] = { e.tcs[0], e.reg[0], e.reg[1] };
	for (int i = 0; i < 3; i++) {
		p_info(cpu, pages[i], &info[i]);
		page_snapshot(pages[i], snap[i]);
		p_out_alloc(&o[i]);
		p_evict_child(cpu, e.secs, pages[i], p_slot(va, i), &o[i]);
		if (i < 2)
			CHECK_SGX(p_ewb(cpu, e.secs, p_slot(va, 100), &so), SGX_CHILD_PRESENT);
	}
	page_snapshot(e.secs, secs_snap);
	{
		struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };

		pginfo.contents = (uintptr_t)so.contents;
		pginfo.metadata = (uintptr_t)so.pcmd;
		pginfo.secs = (uintptr_t)e.secs;
		CHECK_SGX(encls_ewb(cpu, &pginfo, e.secs, p_slot(va, 100)), GP);
	}
	p_evict_root(cpu, e.secs, p_slot(va, 100), &so);
	CHECK_EQ(pcmd_type(so.pcmd), SGX_PAGE_TYPE_SECS);
	CHECK_EQ(so.pcmd->enclave_id, secs_before.enclave_id); /* software's handle */
	p_info(cpu, e.secs, &secs_after);
	CHECK(!secs_after.valid);
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 1); /* the VA page */

	/* Children cannot come back before their SECS. */
	CHECK_SGX(p_eld(cpu, &o[1], e.reg[0], false), PF);
	/* A SECS is loaded with no SECS operand; into another frame here. */
	{
		struct p_out wrong;

		p_out_copy(&wrong, &so);
		wrong.secs = e.secs;
		new_secs = sgx_cpu_frame_addr(cpu, sgx_cpu_nr_frames(cpu) - 1);
		CHECK_SGX(p_eld(cpu, &wrong, new_secs, false), GP);
		p_out_free(&wrong);
	}
	CHECK_SGX(p_eld(cpu, &so, new_secs, true), 0); /* ELDB: a SECS is never blocked */
	p_info(cpu, new_secs, &secs_after);
	p_check_same_info(&secs_before, &secs_after);
	CHECK_MEM(new_secs, secs_snap, 4096);

	for (int i = 0; i < 3; i++) {
		void *dst = t_free_frame(cpu);

		o[i].secs = new_secs;
		CHECK_SGX(p_eld(cpu, &o[i], dst, false), 0);
		p_info(cpu, dst, &again);
		info[i].blocked = false;
		p_check_same_info(&info[i], &again);
		CHECK_MEM(dst, snap[i], 4096);
		p_out_free(&o[i]);
	}
	CHECK_SGX(encls_eremove(cpu, new_secs), SGX_CHILD_PRESENT);
	p_out_free(&so);
	p_teardown(cpu);
}

/* A VA page holding versions goes out into another VA page's slot (no
 * EBLOCK, no ETRACK) and comes back with its slots. */
TEST(va_page_written_back_and_reloaded)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	uint8_t va_snap[4096], want[4096];
	struct p_out o, vo;
	struct p_encl e;
	void *va1, *va2, *va1_new;

	p_build(cpu, 1, 1, 12, false, &e);
	va1 = p_va(cpu);
	va2 = p_va(cpu);
	p_out_alloc(&o);
	p_out_alloc(&vo);
	p_evict_child(cpu, e.secs, e.reg[0], p_slot(va1, 511), &o);
	page_snapshot(va1, va_snap);
	CHECK_NE(*p_slot(va1, 511), 0);

	CHECK_SGX(encls_eblock(cpu, va1), SGX_NOTBLOCKABLE);
	CHECK_SGX(p_ewb(cpu, va1, p_slot(va1, 0), &vo), GP); /* its own slot */
	p_evict_root(cpu, va1, p_slot(va2, 0), &vo);
	CHECK_EQ(pcmd_type(vo.pcmd), SGX_PAGE_TYPE_VA);
	CHECK_EQ(vo.pcmd->enclave_id, 0);
	p_info(cpu, va1, &info);
	CHECK(!info.valid);
	/* Its page cannot be loaded while the VA page is out. */
	CHECK_SGX(p_eld(cpu, &o, e.reg[0], false), PF);

	va1_new = sgx_cpu_frame_addr(cpu, sgx_cpu_nr_frames(cpu) - 2);
	CHECK_SGX(p_eld(cpu, &vo, va1_new, false), 0);
	CHECK_EQ(*p_slot(va2, 0), 0);
	p_info(cpu, va1_new, &info);
	CHECK(info.valid && !info.blocked);
	CHECK_EQ(info.type, SGX_PAGE_TYPE_VA);
	CHECK_MEM(va1_new, va_snap, 4096);

	o.slot = p_slot(va1_new, 511);
	CHECK_SGX(p_eld(cpu, &o, e.reg[0], false), 0);
	p_reg_contents(12, 0, want);
	CHECK_MEM(e.reg[0], want, 4096);
	p_out_free(&o);
	p_out_free(&vo);
	p_teardown(cpu);
}

/* The SDM's EWB writes its version over an occupied slot and says so: the
 * page goes out, and the page whose version was there is lost. */
TEST(va_slot_occupied)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	uint8_t want[4096];
	struct p_out a, b;
	struct p_encl e;
	uint64_t va_version;
	void *va;

	p_build(cpu, 1, 2, 13, false, &e);
	va = p_va(cpu);
	p_out_alloc(&a);
	p_out_alloc(&b);
	p_evict_child(cpu, e.secs, e.reg[0], p_slot(va, 5), &a);
	va_version = *p_slot(va, 5);
	CHECK_SGX(encls_eblock(cpu, e.reg[1]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[1], p_slot(va, 5), &b), SGX_VA_SLOT_OCCUPIED);
	b.linaddr = p_reg_addr(&e, 1);
	b.secs = e.secs;
	p_info(cpu, e.reg[1], &info);
	CHECK(!info.valid);
	CHECK_NE(*p_slot(va, 5), va_version);
	CHECK_SGX(p_eld(cpu, &a, e.reg[0], false), SGX_MAC_COMPARE_FAIL);
	CHECK_SGX(p_eld(cpu, &b, e.reg[1], false), 0);
	p_reg_contents(13, 1, want);
	CHECK_MEM(e.reg[1], want, 4096);
	p_out_free(&a);
	p_out_free(&b);
	p_teardown(cpu);
}

TEST(thread_enter_rules)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_cpu_thread t1 = { 0 }, t2 = { 0 };
	struct p_encl e, raw;

	p_build(cpu, 2, 1, 14, false, &raw);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, raw.tcs[0]), GP); /* not initialized */
	CHECK(t1.tcs == NULL);
	p_build(cpu, 2, 1, 15, true, &e);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, e.reg[0]), PF); /* not a TCS */
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, e.secs), PF);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, t_free_frame(cpu)), PF);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, (uint8_t *)e.tcs[0] + 8), GP);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, outside), PF);

	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, e.tcs[0]), 0);
	CHECK(t1.tcs == e.tcs[0] && t1.secs == e.secs);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t2, e.tcs[0]), GP); /* busy */
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, e.tcs[1]), GP); /* already inside */
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t2, e.tcs[1]), 0);
	sgx_cpu_thread_exit(cpu, &t1);
	CHECK(t1.tcs == NULL);
	sgx_cpu_thread_exit(cpu, &t1); /* outside: nothing to do */
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, e.tcs[0]), 0);
	sgx_cpu_thread_exit(cpu, &t1);
	sgx_cpu_thread_exit(cpu, &t2);

	/* A blocked TCS cannot be entered. */
	CHECK_SGX(encls_eblock(cpu, e.tcs[1]), 0);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t1, e.tcs[1]), PF);
	p_teardown(cpu);
}

/*
 * SDM, EENTER: the TCS checks that EADD leaves to it, each #GP(0): a
 * reserved FLAGS bit, CSSA >= NSSA, OSSA, OFSBASE or OGSBASE not page
 * aligned.  EADD took each of these TCSs (test_build.c,
 * eadd_tcs_as_the_sdm_leaves_it); a TCS whose DBGOPTIN, CSSA, AEP and
 * STATE were set enters, because EADD cleared them.
 */
TEST(eenter_checks_the_tcs)
{
	struct {
		const char *what;
		uint64_t flags, ssa_offset, fs_offset, gs_offset;
		uint32_t nssa;
		int expect;
	} cases[] = {
		{ "DBGOPTIN, CSSA, AEP, STATE set", SGX_TCS_DBGOPTIN, 4096, 8192, 8192, 1, 0 },
		{ "AEXNOTIFY flag (no AEX-Notify in the model)", SGX_TCS_AEXNOTIFY, 0, 0, 0, 1, GP },
		{ "AEXNOTIFY with DBGOPTIN", SGX_TCS_AEXNOTIFY | SGX_TCS_DBGOPTIN, 0, 0, 0, 1, GP },
		{ "reserved FLAGS bit", 1ULL << 5, 0, 0, 0, 1, GP },
		{ "reserved FLAGS bit 63", 1ULL << 63, 0, 0, 0, 1, GP },
		{ "OSSA unaligned", 0, 100, 0, 0, 1, GP },
		{ "OFSBASE unaligned", 0, 0, 8, 0, 1, GP },
		{ "OGSBASE unaligned", 0, 0, 0, 0x800, 1, GP },
		{ "NSSA 0", 0, 0, 0, 0, 0, GP },
	};
	struct sgx_tcs *tcs = t_page_alloc();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sgx_cpu *cpu = p_machine();
		struct sgx_cpu_thread t = { 0 };
		struct p_encl e;
		int ret;

		memset(tcs, 0, 4096);
		tcs->state = 1;
		tcs->flags = cases[i].flags;
		tcs->ssa_index = 7; /* EADD makes CSSA 0 */
		tcs->exit_addr = 0xdead000;
		tcs->nr_ssa_frames = cases[i].nssa;
		tcs->ssa_offset = cases[i].ssa_offset;
		tcs->fs_offset = cases[i].fs_offset;
		tcs->gs_offset = cases[i].gs_offset;
		p_build_tcs(cpu, 1, 1, 21, true, tcs, &e);
		ret = sgx_cpu_thread_enter(cpu, &t, e.tcs[0]);
		CHECK_MSG(ret == cases[i].expect, "%s: got %s, want %s", cases[i].what,
			  sgx_error_name(ret), sgx_error_name(cases[i].expect));
		CHECK(ret ? t.tcs == NULL : t.tcs == e.tcs[0]);
		sgx_cpu_thread_exit(cpu, &t);
		p_teardown(cpu);
	}
	free(tcs);
}

/* A thread that entered before the ETRACK holds up EWB (SGX_NOT_TRACKED)
 * and the next ETRACK (SGX_PREV_TRK_INCMPL) until it leaves. */
TEST(thread_inside_holds_up_tracking)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_cpu_thread t = { 0 }, late = { 0 };
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 2, 2, 16, true, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t, e.tcs[0]), 0);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), SGX_NOT_TRACKED);
	CHECK_SGX(encls_etrack(cpu, e.secs), SGX_PREV_TRK_INCMPL);
	/* A thread entering after the ETRACK cannot have seen the page. */
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &late, e.tcs[1]), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), SGX_NOT_TRACKED);
	/* EREMOVE of any page refuses while threads are inside. */
	CHECK_SGX(encls_eremove(cpu, e.reg[1]), SGX_ENCLAVE_ACT);
	CHECK_SGX(encls_eremove(cpu, e.tcs[1]), SGX_ENCLAVE_ACT);

	sgx_cpu_thread_exit(cpu, &t); /* completes the tracking */
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), 0);
	o.linaddr = p_reg_addr(&e, 0);
	o.secs = e.secs;
	/* The late thread is now the current epoch's: ETRACK starts, and the
	 * next one waits for it. */
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), SGX_PREV_TRK_INCMPL);
	CHECK_SGX(encls_eblock(cpu, e.reg[1]), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[1], p_slot(va, 1), &o), SGX_NOT_TRACKED);
	sgx_cpu_thread_exit(cpu, &late);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(encls_eremove(cpu, e.reg[1]), 0);
	p_out_free(&o);
	p_teardown(cpu);
}

/* A blocked TCS with its thread inside is held by the tracking. */
TEST(busy_tcs_cannot_be_written_back)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_cpu_thread t = { 0 };
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 1, 17, true, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t, e.tcs[0]), 0);
	CHECK_SGX(encls_eblock(cpu, e.tcs[0]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_SGX(p_ewb(cpu, e.tcs[0], p_slot(va, 0), &o), SGX_NOT_TRACKED);
	sgx_cpu_thread_exit(cpu, &t);
	CHECK_SGX(p_ewb(cpu, e.tcs[0], p_slot(va, 0), &o), 0);
	o.linaddr = p_tcs_addr(&e, 0);
	o.secs = e.secs;
	CHECK_SGX(p_eld(cpu, &o, e.tcs[0], false), 0);
	CHECK_SGX(sgx_cpu_thread_enter(cpu, &t, e.tcs[0]), 0); /* loaded TCS is free */
	sgx_cpu_thread_exit(cpu, &t);
	p_out_free(&o);
	p_teardown(cpu);
}

TEST(poisoned_frames_machine_check)
{
	struct sgx_cpu *cpu = p_machine();
	struct p_out o;
	struct p_encl e;
	void *va;

	p_build(cpu, 1, 2, 18, false, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), 0);
	CHECK_SGX(encls_etrack(cpu, e.secs), 0);
	CHECK_EQ(sgx_cpu_poison(cpu, e.reg[0]), 0);
	CHECK_SGX(p_ewb(cpu, e.reg[0], p_slot(va, 0), &o), MC);
	CHECK_SGX(encls_eblock(cpu, e.reg[0]), MC);
	CHECK_EQ(*p_slot(va, 0), 0);
	p_out_free(&o);
	/* A poisoned frame cannot be removed either; the test ends without
	 * the EPC-empty check. */
	sgx_cpu_destroy(cpu);
	p_no_leaks();
}

/*
 * SDM, ELDB/ELDU: the target is checked before the VA page ("EPCM(DS:RCX).
 * VALID = 1" faults before "EPCM(DS:RDX & ~0FFFH).VALID = 0 or PT !=
 * PT_VA" is looked at).  A poisoned frame tells which was touched first: a
 * valid target in front of a poisoned VA page is #PF, the VA page never
 * reached; a poisoned free target in front of a slot that is no VA page's
 * machine-checks.
 */
TEST(eld_checks_target_before_va_page)
{
	struct sgx_cpu *cpu = p_machine();
	struct sgx_epcm_info info;
	struct p_out o, bad;
	void *va, *sick, *dst;
	struct p_encl e;

	p_build(cpu, 1, 2, 19, false, &e);
	va = p_va(cpu);
	p_out_alloc(&o);
	p_evict_child(cpu, e.secs, e.reg[0], p_slot(va, 0), &o);
	p_out_copy(&bad, &o);
	sick = t_free_frame(cpu);
	for (int64_t i = sgx_cpu_frame_index(cpu, sick) + 1;; i++) {
		dst = sgx_cpu_frame_addr(cpu, (uint64_t)i);
		p_info(cpu, dst, &info);
		if (!info.valid)
			break;
	}

	/* A free, poisoned target; the slot is in a REG page. */
	CHECK_EQ(sgx_cpu_poison(cpu, sick), 0);
	bad.slot = (uint64_t *)e.reg[1] + 3;
	CHECK_SGX(p_eld(cpu, &bad, sick, false), MC);
	CHECK_SGX(p_eld(cpu, &bad, sick, true), MC);

	/* A valid target; the VA page poisoned. */
	CHECK_EQ(sgx_cpu_poison(cpu, va), 0);
	CHECK_SGX(p_eld(cpu, &o, e.reg[1], false), PF);
	CHECK_SGX(p_eld(cpu, &o, e.reg[1], true), PF);
	/* A free target with that VA page reaches it. */
	CHECK_SGX(p_eld(cpu, &o, dst, false), MC);
	/* A slot inside the free target itself is no VA page's. */
	bad.slot = (uint64_t *)dst + 1;
	CHECK_SGX(p_eld(cpu, &bad, dst, false), PF);

	/* Everything but the poisoned frames goes; they cannot be removed. */
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < sgx_cpu_nr_frames(cpu); i++) {
			void *f = sgx_cpu_frame_addr(cpu, i);
			int ret;

			if (f == va || f == sick)
				continue;
			ret = encls_eremove(cpu, f);
			CHECK_MSG(ret == 0 || (pass == 0 && ret == SGX_CHILD_PRESENT),
				  "EREMOVE frame %llu: %s", (unsigned long long)i, sgx_error_name(ret));
		}
	CHECK_EQ(sgx_cpu_nr_valid(cpu), 1); /* the VA page */
	p_out_free(&bad);
	p_out_free(&o);
	sgx_cpu_destroy(cpu);
	p_no_leaks();
}

/*
 * Several threads write back and load pages of their own enclaves, all
 * through slots of one shared VA page: the VA page is shared, so no leaf
 * may fail for another's use of it.
 */
#define WORKERS 4
#define WORKER_PAGES 3

struct worker {
	struct sgx_cpu *cpu;
	struct p_encl *e;
	void *va;
	unsigned int id;
	unsigned int rounds;
	int failed_ret;
	int failed_line;
};

#define W_CHECK(w, expr)                                                       \
	do {                                                                   \
		int _r = (expr);                                               \
		if (_r && !(w)->failed_line) {                                 \
			(w)->failed_ret = _r;                                  \
			(w)->failed_line = __LINE__;                           \
		}                                                              \
	} while (0)

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct p_out o[WORKER_PAGES];
	uint8_t want[4096];

	for (unsigned int i = 0; i < WORKER_PAGES; i++)
		p_out_alloc(&o[i]);
	for (unsigned int r = 0; r < w->rounds && !w->failed_line; r++) {
		for (unsigned int i = 0; i < WORKER_PAGES; i++)
			W_CHECK(w, encls_eblock(w->cpu, w->e->reg[i]));
		W_CHECK(w, encls_etrack(w->cpu, w->e->secs));
		for (unsigned int i = 0; i < WORKER_PAGES; i++) {
			W_CHECK(w, p_ewb(w->cpu, w->e->reg[i],
					 p_slot(w->va, w->id * WORKER_PAGES + i), &o[i]));
			o[i].linaddr = p_reg_addr(w->e, i);
			o[i].secs = w->e->secs;
		}
		for (unsigned int i = 0; i < WORKER_PAGES; i++)
			W_CHECK(w, p_eld(w->cpu, &o[i], w->e->reg[i], false));
	}
	for (unsigned int i = 0; i < WORKER_PAGES && !w->failed_line; i++) {
		p_reg_contents(w->e->fill, i, want);
		if (memcmp(w->e->reg[i], want, 4096)) {
			w->failed_ret = -1;
			w->failed_line = __LINE__;
		}
	}
	for (unsigned int i = 0; i < WORKER_PAGES; i++)
		p_out_free(&o[i]);
	return NULL;
}

TEST(threads_share_a_va_page)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	struct p_encl e[WORKERS];
	struct worker w[WORKERS];
	pthread_t th[WORKERS];
	void *va;

	sgx_cpu_config_default(&cfg, 128 * 4096ULL);
	CHECK_EQ(sgx_cpu_create(&cfg, &cpu), 0);
	va = p_va(cpu);
	for (unsigned int i = 0; i < WORKERS; i++) {
		p_build(cpu, 0, WORKER_PAGES, (uint8_t)(40 + i), false, &e[i]);
		w[i] = (struct worker){ .cpu = cpu, .e = &e[i], .va = va, .id = i,
					.rounds = harness_sanitized() ? 50 : 400 };
	}
	for (unsigned int i = 0; i < WORKERS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	for (unsigned int i = 0; i < WORKERS; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	for (unsigned int i = 0; i < WORKERS; i++)
		CHECK_MSG(!w[i].failed_line, "worker %u: line %d: %s", i, w[i].failed_line,
			  sgx_error_name(w[i].failed_ret));
	CHECK(all_zero(va, 4096));
	p_teardown(cpu);
}

/*
 * One enclave, two reclaimers writing back and loading disjoint pages the
 * way the kernel does (EBLOCK, ETRACK, EWB, retrying on SGX_NOT_TRACKED),
 * while two threads keep entering and leaving the enclave: the tracking
 * must let every write-back through in the end and lose nothing.
 */
#define RECLAIMERS 2
#define RECLAIM_PAGES 3

struct encl_thread {
	struct sgx_cpu *cpu;
	void *tcs;
	unsigned int rounds;
	int failed_ret;
	int failed_line;
};

static void *enclave_thread_main(void *arg)
{
	struct encl_thread *et = arg;
	struct sgx_cpu_thread t = { 0 };

	for (unsigned int r = 0; r < et->rounds && !et->failed_line; r++) {
		int ret = sgx_cpu_thread_enter(et->cpu, &t, et->tcs);

		if (ret) {
			et->failed_ret = ret;
			et->failed_line = __LINE__;
			break;
		}
		for (int spin = 0; spin < 50; spin++)
			__asm__ volatile("" ::: "memory");
		sgx_cpu_thread_exit(et->cpu, &t);
		if (r % 8 == 0)
			sched_yield();
	}
	return NULL;
}

struct reclaimer {
	struct sgx_cpu *cpu;
	struct p_encl *e;
	void *va;
	unsigned int first; /* first REG page of its share */
	unsigned int rounds;
	unsigned long not_tracked; /* EWBs refused for tracking */
	int failed_ret;
	int failed_line;
};

static void *reclaimer_main(void *arg)
{
	struct reclaimer *w = arg;
	struct p_out o;
	uint8_t want[4096];

	p_out_alloc(&o);
	for (unsigned int r = 0; r < w->rounds && !w->failed_line; r++)
		for (unsigned int k = 0; k < RECLAIM_PAGES && !w->failed_line; k++) {
			unsigned int i = w->first + k;
			int ret = encls_eblock(w->cpu, w->e->reg[i]);

			if (ret)
				W_CHECK(w, ret);
			for (;;) {
				ret = p_ewb(w->cpu, w->e->reg[i], p_slot(w->va, i), &o);
				if (ret != SGX_NOT_TRACKED)
					break;
				w->not_tracked++;
				/* Another reclaimer's ETRACK of the SECS at the same
				 * moment answers SGX_EPC_PAGE_CONFLICT (the SDM's ETRACK
				 * vs. ETRACK): try again, as for an incomplete one. */
				ret = encls_etrack(w->cpu, w->e->secs);
				if (ret && ret != SGX_PREV_TRK_INCMPL && ret != SGX_EPC_PAGE_CONFLICT)
					break;
				sched_yield();
			}
			W_CHECK(w, ret);
			o.linaddr = p_reg_addr(w->e, i);
			o.secs = w->e->secs;
			W_CHECK(w, p_eld(w->cpu, &o, w->e->reg[i], false));
		}
	for (unsigned int k = 0; k < RECLAIM_PAGES && !w->failed_line; k++) {
		p_reg_contents(w->e->fill, w->first + k, want);
		if (memcmp(w->e->reg[w->first + k], want, 4096)) {
			w->failed_ret = -1;
			w->failed_line = __LINE__;
		}
	}
	p_out_free(&o);
	return NULL;
}

TEST(threads_reclaim_while_threads_enter)
{
	struct sgx_cpu *cpu = p_machine();
	struct reclaimer rc[RECLAIMERS];
	struct encl_thread et[2];
	pthread_t th[RECLAIMERS + 2];
	unsigned long not_tracked = 0;
	struct p_encl e;
	void *va;

	p_build(cpu, 2, RECLAIMERS * RECLAIM_PAGES, 0x70, true, &e);
	va = p_va(cpu);
	for (unsigned int i = 0; i < 2; i++) {
		et[i] = (struct encl_thread){ .cpu = cpu, .tcs = e.tcs[i],
					      .rounds = harness_sanitized() ? 2000 : 20000 };
		CHECK_EQ(pthread_create(&th[RECLAIMERS + i], NULL, enclave_thread_main, &et[i]), 0);
	}
	for (unsigned int i = 0; i < RECLAIMERS; i++) {
		rc[i] = (struct reclaimer){ .cpu = cpu, .e = &e, .va = va,
					    .first = i * RECLAIM_PAGES,
					    .rounds = harness_sanitized() ? 30 : 300 };
		CHECK_EQ(pthread_create(&th[i], NULL, reclaimer_main, &rc[i]), 0);
	}
	for (unsigned int i = 0; i < RECLAIMERS + 2; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	for (unsigned int i = 0; i < 2; i++)
		CHECK_MSG(!et[i].failed_line, "enclave thread %u: line %d: %s", i,
			  et[i].failed_line, sgx_error_name(et[i].failed_ret));
	for (unsigned int i = 0; i < RECLAIMERS; i++) {
		CHECK_MSG(!rc[i].failed_line, "reclaimer %u: line %d: %s", i, rc[i].failed_line,
			  sgx_error_name(rc[i].failed_ret));
		not_tracked += rc[i].not_tracked;
	}
	printf("  %lu write-backs refused as not tracked, then retried\n", not_tracked);
	CHECK(all_zero(va, 4096));
	p_teardown(cpu);
}
