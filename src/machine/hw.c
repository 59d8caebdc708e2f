/*
 * hw.c: the processor and the core of a machine.  The one place that
 * makes them, so that the switch of the processor's state into memory the
 * clients share (the arena) happens here and nowhere else.
 */
#include <errno.h>
#include <string.h>

#include "machine/machine.h"
#include "sgxemu/core.h"

void sgx_machine_config_default(struct sgx_machine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->epc_bytes = 64ULL << 20;
	cfg->nr_sections = 1;
	cfg->backing_limit_pct = SGX_MACHINE_BACKING_DEFAULT;
	cfg->lc_mode = SGX_LC_WRITABLE;
}

int sgx_machine_hw_create(const struct sgx_machine_config *cfg, struct sgx_cpu **cpu,
			  struct sgx_core **core)
{
	struct sgx_cpu_config cc;
	struct sgx_core_config kc;
	uint64_t frames, per, left;
	int ret;

	if (!cfg->nr_sections || cfg->nr_sections > SGX_MAX_EPC_SECTIONS)
		return -EINVAL;
	frames = cfg->epc_bytes / SGX_PAGE_SIZE;
	if (frames < cfg->nr_sections || cfg->epc_bytes % SGX_PAGE_SIZE)
		return -EINVAL;
	sgx_cpu_config_default(&cc, cfg->epc_bytes);
	/* Sections of equal size, the remainder in the last; one node each. */
	cc.nr_sections = cfg->nr_sections;
	per = frames / cfg->nr_sections;
	left = frames;
	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		uint64_t n = i + 1 == cfg->nr_sections ? left : per;

		cc.sections[i].size = n * SGX_PAGE_SIZE;
		cc.sections[i].node = (int)i;
		left -= n;
	}
	cc.lc_mode = cfg->lc_mode;
	if (cfg->seeded) {
		cc.seeded = true;
		memset(cc.seed, 0, sizeof(cc.seed));
		memcpy(cc.seed, &cfg->seed, sizeof(cfg->seed));
	}
	ret = sgx_cpu_create(&cc, cpu);
	if (ret)
		return ret;
	sgx_core_config_default(&kc);
	if (cfg->backing_limit_pct != SGX_MACHINE_BACKING_DEFAULT)
		kc.backing_limit = frames * cfg->backing_limit_pct / 100;
	ret = sgx_core_create(*cpu, &kc, core);
	if (ret) {
		sgx_cpu_destroy(*cpu);
		*cpu = NULL;
	}
	return ret;
}

void sgx_machine_hw_destroy(struct sgx_cpu *cpu, struct sgx_core *core)
{
	if (core)
		sgx_core_destroy(core);
	if (cpu)
		sgx_cpu_destroy(cpu);
}
