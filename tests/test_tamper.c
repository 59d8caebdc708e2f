/*
 * test_tamper.c: only the page EWB wrote, with its own PCMD, through the
 * VA slot that holds its version, at its own address, in its own enclave,
 * loads back.
 *
 * A seeded loop (HARNESS_SEED) writes back one of four pages (a REG page,
 * a TCS, a VA page holding versions, a childless SECS), then tries to load
 * it after one tamper: a flipped bit of the encrypted page, of the PCMD
 * (any field) or of the VA slot; the previous write-back of the same page
 * (a replay); the page at another linear address; in another enclave; or
 * through another page's slot.  Every attempt must fail and change
 * nothing, and the untouched copy must then load with the right bytes.
 *
 * What the failures are: SGX_MAC_COMPARE_FAIL, except for a flipped bit of
 * PCMD.SECINFO's page type, which the SDM's ELDU checks before the MAC
 * (the type decides whether PAGEINFO.SECS names a SECS) and refuses with
 * #GP or #PF.  A flip of PCMD.RESERVED is a MAC failure: the SDM puts
 * RESERVED in the authenticated header.
 */
#include "sgxemu/cpu.h"
#include "harness.h"
#include "paging_helpers.h"

enum tamper {
	T_PAGE_BIT,
	T_PCMD_BIT,
	T_SLOT_BIT,
	T_REPLAY,
	T_MOVE_ADDR,
	T_MOVE_ENCLAVE,
	T_SWAP_SLOT,
	NR_TAMPERS,
};

static const char *const tamper_names[NR_TAMPERS] = {
	"page bit", "PCMD bit", "slot bit", "replay", "other address", "other enclave",
	"other slot",
};

struct target {
	const char *name;
	void *epc; /* its frame while resident */
	void *secs; /* its SECS (REG, TCS), NULL for SECS and VA pages */
	uint64_t linaddr;
	uint64_t *slot;
	struct sgx_epcm_info info; /* before the first write-back */
	uint8_t snap[4096]; /* its bytes at the last write-back */
	struct p_out good, prev;
	unsigned int writes; /* write-backs so far: prev is valid from 2 */
};

struct world {
	struct sgx_cpu *cpu;
	struct p_encl a, b, c;
	void *vmain, *vt;
	struct target t[4];
	struct p_out companion; /* a page of a kept out for the whole test */
	struct p_out dummies[2]; /* pages of b whose versions vt holds */
	uint64_t rng;
};

static void target_init(struct world *w, struct target *t, const char *name, void *epc,
			void *secs, unsigned int slot)
{
	t->name = name;
	t->epc = epc;
	t->secs = secs;
	p_info(w->cpu, epc, &t->info);
	t->linaddr = t->info.linaddr;
	t->slot = p_slot(w->vmain, slot);
	p_out_alloc(&t->good);
	p_out_alloc(&t->prev);
}

static void setup(struct world *w, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->rng = seed ? seed : 1;
	w->cpu = p_machine();
	p_build(w->cpu, 1, 3, 0x51, false, &w->a);
	p_build(w->cpu, 0, 2, 0x52, false, &w->b);
	p_build(w->cpu, 0, 0, 0x53, false, &w->c);
	w->vmain = p_va(w->cpu);
	w->vt = p_va(w->cpu);

	/* vt holds the versions of b's two pages: a VA page worth tampering. */
	for (unsigned int i = 0; i < 2; i++) {
		p_out_alloc(&w->dummies[i]);
		p_evict_child(w->cpu, w->b.secs, w->b.reg[i], p_slot(w->vt, 7 + 100 * i),
			      &w->dummies[i]);
	}
	p_out_alloc(&w->companion);
	p_evict_child(w->cpu, w->a.secs, w->a.reg[2], p_slot(w->vmain, 10), &w->companion);

	target_init(w, &w->t[0], "REG", w->a.reg[0], w->a.secs, 0);
	target_init(w, &w->t[1], "TCS", w->a.tcs[0], w->a.secs, 1);
	target_init(w, &w->t[2], "VA", w->vt, NULL, 2);
	target_init(w, &w->t[3], "SECS", w->c.secs, NULL, 3);
}

/* Writes the target back; the last good copy becomes the previous one. */
static void write_back(struct world *w, struct target *t)
{
	struct p_out tmp = t->prev;

	t->prev = t->good;
	t->good = tmp;
	t->writes++;
	memcpy(t->snap, t->epc, 4096);
	if (t->secs)
		p_evict_child(w->cpu, t->secs, t->epc, t->slot, &t->good);
	else
		p_evict_root(w->cpu, t->epc, t->slot, &t->good);
}

/* Loads the good copy back and checks bytes and EPCM state. */
static void load_good(struct world *w, struct target *t, bool blocked)
{
	struct sgx_epcm_info info;

	CHECK_SGX(p_eld(w->cpu, &t->good, t->epc, blocked), 0);
	CHECK_EQ(*t->slot, 0);
	CHECK_MEM(t->epc, t->snap, 4096);
	p_info(w->cpu, t->epc, &info);
	CHECK(info.valid);
	CHECK_EQ(info.type, t->info.type);
	CHECK_EQ(info.perms, t->info.perms);
	CHECK_EQ(info.linaddr, t->info.linaddr);
	CHECK_EQ(info.enclave_id, t->info.enclave_id);
	CHECK_EQ(info.blocked, blocked && t->secs != NULL);
}

/* Changes the REG page between write-backs, as the enclave would, so that
 * consecutive write-backs of it differ in content too. */
static void touch(struct world *w, struct target *t)
{
	uint64_t off = (harness_rand(&w->rng) % 512) * 8;

	if (t->info.type != SGX_PAGE_TYPE_REG)
		return;
	CHECK_SGX(encls_edbgwr(w->cpu, (uint8_t *)t->epc + off, harness_rand(&w->rng)), 0);
}

struct tally {
	unsigned int attempts, detected, mac, faults;
	unsigned int by_kind[NR_TAMPERS];
};

/* One tampered load attempt.  Returns what the load answered; the caller
 * checks that nothing changed. */
static int attempt(struct world *w, struct target *t, enum tamper kind, bool *type_bit)
{
	struct p_out bad;
	uint64_t saved_slot = *t->slot;
	unsigned int bit = 0;
	int ret;

	*type_bit = false;
	if (kind == T_REPLAY) {
		p_out_copy(&bad, &t->prev);
		bad.slot = t->slot;
	} else {
		p_out_copy(&bad, &t->good);
	}
	switch (kind) {
	case T_PAGE_BIT:
		bit = harness_rand(&w->rng) % (4096 * 8);
		bad.contents[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		break;
	case T_PCMD_BIT:
		bit = harness_rand(&w->rng) % (128 * 8);
		((uint8_t *)bad.pcmd)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		*type_bit = bit >= SGX_SECINFO_PAGE_TYPE_SHIFT && bit < SGX_SECINFO_PAGE_TYPE_SHIFT + 8;
		break;
	case T_SLOT_BIT:
		bit = harness_rand(&w->rng) % 64;
		*t->slot ^= 1ULL << bit;
		break;
	case T_REPLAY:
		break;
	case T_MOVE_ADDR:
		bad.linaddr += 4096 * (1 + harness_rand(&w->rng) % 15);
		break;
	case T_MOVE_ENCLAVE:
		bad.secs = w->b.secs;
		break;
	case T_SWAP_SLOT:
		bad.slot = w->companion.slot;
		break;
	default:
		break;
	}
	ret = p_eld(w->cpu, &bad, t->epc, harness_rand(&w->rng) & 1);
	if (kind == T_SLOT_BIT) {
		/* The failed load left the slot as it found it. */
		CHECK_EQ(*t->slot, saved_slot ^ (1ULL << bit));
		*t->slot = saved_slot;
	}
	p_out_free(&bad);
	return ret;
}

static void run(uint64_t seed, unsigned int iterations)
{
	struct world w;
	struct tally tl = { 0 };
	uint64_t companion_version;

	setup(&w, seed);
	companion_version = *w.companion.slot;
	for (unsigned int it = 0; it < iterations; it++) {
		struct target *t = &w.t[harness_rand(&w.rng) % 4];
		enum tamper kind = harness_rand(&w.rng) % NR_TAMPERS;
		uint64_t nr_valid, version;
		struct sgx_epcm_info info;
		bool type_bit;
		int ret;

		touch(&w, t);
		write_back(&w, t);
		if (kind == T_REPLAY && t->writes < 2)
			kind = T_PAGE_BIT;
		if (kind == T_MOVE_ENCLAVE && !t->secs)
			kind = T_PCMD_BIT;
		nr_valid = sgx_cpu_nr_valid(w.cpu);
		version = *t->slot;

		ret = attempt(&w, t, kind, &type_bit);
		tl.attempts++;
		tl.by_kind[kind]++;
		p_info(w.cpu, t->epc, &info);
		CHECK_MSG(ret != 0, "iteration %u: %s tamper of the %s page loaded", it,
			  tamper_names[kind], t->name);
		CHECK_MSG(!info.valid && *t->slot == version && *w.companion.slot == companion_version &&
				  sgx_cpu_nr_valid(w.cpu) == nr_valid,
			  "iteration %u: failed %s load of the %s page changed state", it,
			  tamper_names[kind], t->name);
		if (type_bit) {
			/* Refused before the MAC, by the page-type check. */
			CHECK_MSG(encls_faulted(ret) && (encls_trapnr(ret) == X86_TRAP_GP ||
							 encls_trapnr(ret) == X86_TRAP_PF),
				  "iteration %u: type bit of the %s page: %s", it, t->name,
				  sgx_error_name(ret));
			tl.faults++;
		} else {
			CHECK_MSG(ret == SGX_MAC_COMPARE_FAIL, "iteration %u: %s tamper of the %s page: %s",
				  it, tamper_names[kind], t->name, sgx_error_name(ret));
			tl.mac++;
		}
		tl.detected++;
		load_good(&w, t, harness_rand(&w.rng) & 1);
	}

	printf("  seed %#llx: %u attempts, %u detected: %u SGX_MAC_COMPARE_FAIL, %u refused"
	       " (#GP/#PF, PCMD page-type bits)\n",
	       (unsigned long long)seed, tl.attempts, tl.detected, tl.mac, tl.faults);
	for (unsigned int k = 0; k < NR_TAMPERS; k++)
		printf("    %-14s %u\n", tamper_names[k], tl.by_kind[k]);
	CHECK_EQ(tl.detected, tl.attempts);
	CHECK_EQ(tl.attempts, iterations);
	for (unsigned int k = 0; k < NR_TAMPERS; k++)
		CHECK_GT(tl.by_kind[k], 0);

	/* Everything that is out comes back as it was. */
	{
		uint8_t want[4096];
		void *dst = t_free_frame(w.cpu);

		CHECK_SGX(p_eld(w.cpu, &w.companion, dst, false), 0);
		p_reg_contents(w.a.fill, 2, want);
		CHECK_MEM(dst, want, 4096);
		for (unsigned int i = 0; i < 2; i++) {
			dst = t_free_frame(w.cpu);
			CHECK_SGX(p_eld(w.cpu, &w.dummies[i], dst, false), 0);
			p_reg_contents(w.b.fill, i, want);
			CHECK_MEM(dst, want, 4096);
		}
	}
	for (unsigned int i = 0; i < 4; i++) {
		p_out_free(&w.t[i].good);
		p_out_free(&w.t[i].prev);
	}
	p_out_free(&w.companion);
	p_out_free(&w.dummies[0]);
	p_out_free(&w.dummies[1]);
	p_teardown(w.cpu);
}

TEST(random_tampers_all_detected)
{
	run(harness_seed(0x5eed7a3be5ULL), harness_sanitized() ? 1000 : 10000);
}

/* The replay the requirement names step by step: write back, reload,
 * modify, write back again, then offer the old contents and PCMD. */
TEST(old_copy_of_modified_page_refused)
{
	struct sgx_cpu *cpu = p_machine();
	struct p_out old, cur;
	struct p_encl e;
	uint8_t want[4096];
	uint64_t *slot;
	void *va;

	p_build(cpu, 0, 1, 0x60, false, &e);
	va = p_va(cpu);
	slot = p_slot(va, 9);
	p_out_alloc(&old);
	p_out_alloc(&cur);
	p_evict_child(cpu, e.secs, e.reg[0], slot, &old);
	CHECK_SGX(p_eld(cpu, &old, e.reg[0], false), 0);
	CHECK_SGX(encls_edbgwr(cpu, (uint8_t *)e.reg[0] + 64, 0x1122334455667788ULL), 0);
	memcpy(want, e.reg[0], 4096);
	p_evict_child(cpu, e.secs, e.reg[0], slot, &cur);
	CHECK_SGX(p_eld(cpu, &old, e.reg[0], false), SGX_MAC_COMPARE_FAIL);
	/* Even with the new PCMD, or the new contents, alone. */
	{
		struct p_out mix;

		p_out_copy(&mix, &old);
		memcpy(mix.pcmd, cur.pcmd, 128);
		CHECK_SGX(p_eld(cpu, &mix, e.reg[0], false), SGX_MAC_COMPARE_FAIL);
		memcpy(mix.pcmd, old.pcmd, 128);
		memcpy(mix.contents, cur.contents, 4096);
		CHECK_SGX(p_eld(cpu, &mix, e.reg[0], false), SGX_MAC_COMPARE_FAIL);
		p_out_free(&mix);
	}
	CHECK_SGX(p_eld(cpu, &cur, e.reg[0], false), 0);
	CHECK_MEM(e.reg[0], want, 4096);
	p_out_free(&old);
	p_out_free(&cur);
	p_teardown(cpu);
}
