/*
 * cmd_stat.c: `sgxemu stat`: the SGX core's statistics for a machine the
 * command starts.
 *
 * The command makes an emulated machine and a core with its reclaimer
 * thread, runs a small workload that overcommits the EPC (by default
 * enclaves holding 3 times the EPC, each page written and then read back
 * and checked, so that write-backs, loads, aging and VA pages happen),
 * prints every statistic the core keeps, releases everything and prints
 * the final state, which must be empty: every frame free, no backing
 * charge, no VA page.  Each phase is a step over one state (struct stat_run).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/build.h"
#include "tools/json.h"
#include "tools/tools.h"
#include "tools/workload.h"

#define STAT_EPC_MB 4
#define STAT_MAX_EPC_MB 1024
#define STAT_ENCLAVES 3
#define STAT_MAX_ENCLAVES 64
#define STAT_OVERCOMMIT 3
#define STAT_LIMIT_PCT 300
#define STAT_MAX_LIMIT_PCT 10000
#define STAT_MAX_TOTAL_PAGES (1ULL << 20)
/* Page 0 of each enclave is read again after this many pages: kept young. */
#define STAT_HOT_EVERY 16
#define STAT_MAX_WATCH 86400

enum { OPT_JSON = 256, OPT_EPC_MB, OPT_ENCLAVES, OPT_PAGES, OPT_LIMIT, OPT_VA_POLICY,
       OPT_MACHINE, OPT_WATCH };

static const struct tool_opt stat_opts[] = {
	{ .name = "epc-mb", .val = OPT_EPC_MB, .arg = "N",
	  .doc = "The machine's EPC in MiB, 1.." TOOL_STR(STAT_MAX_EPC_MB) ".",
	  .def_kind = TOOL_DEF_DEC, .def = STAT_EPC_MB },
	{ .name = "enclaves", .val = OPT_ENCLAVES, .arg = "N",
	  .doc = "Enclaves in the workload, 0.." TOOL_STR(STAT_MAX_ENCLAVES) " (0: an idle "
		 "machine, whose statistics are its empty state).",
	  .def_kind = TOOL_DEF_DEC, .def = STAT_ENCLAVES },
	{ .name = "pages", .val = OPT_PAGES, .arg = "N",
	  .doc = "RW pages per enclave, 1 or more; all enclaves together at most "
		 "2^20 pages.",
	  .def_kind = TOOL_DEF_TEXT,
	  .def_text = TOOL_STR(STAT_OVERCOMMIT) " times the EPC's pages divided among "
		      "the enclaves." },
	{ .name = "limit-pct", .val = OPT_LIMIT, .arg = "P",
	  .doc = "The backing limit: the pages written back that the core may hold, "
		 "in percent of the EPC, 0.." TOOL_STR(STAT_MAX_LIMIT_PCT) ".  A workload "
		 "the limit stops is reported, not an error.",
	  .def_kind = TOOL_DEF_DEC, .def = STAT_LIMIT_PCT,
	  .def_text = "(the default workload fits; the core's own default is lower "
		      "and would stop it)." },
	{ .name = "va-policy", .val = OPT_VA_POLICY, .arg = "P",
	  .doc = "When VA pages are made: kernel (as the kernel's sgx_encl_grow(): "
		 "one per 512 pages of an enclave, its SECS included, made as pages "
		 "are added and kept until release) or on-demand (as pages are written "
		 "back: a freed frame becomes the next VA page, empty ones are freed).",
	  .def_kind = TOOL_DEF_TEXT, .def_text = "kernel." },
	{ .name = "machine", .val = OPT_MACHINE, .arg = "PATH",
	  .doc = "Read the running machine (sgxemu machine) whose socket is PATH "
		 "instead of starting one: its EPC per node, per enclave and per client "
		 "process, write-backs and loads, faults, EWB retries by cause, backing "
		 "charged against the limit, VA pages.  The workload options do not "
		 "apply.",
	  .def_text = "a machine of the command's own, with the workload." },
	{ .name = "watch", .val = OPT_WATCH, .arg = "SECONDS",
	  .doc = "With --machine: read it again every SECONDS (1.." TOOL_STR(STAT_MAX_WATCH)
		 "), redrawing the page (with --json, one object per reading), until "
		 "SIGINT or SIGTERM, which end the command with exit status 0.",
	  .def_text = "one reading." },
	TOOL_JSON_OPTION(OPT_JSON, "{epc_mb, epc_pages, backing_limit_pct, va_policy, "
				   "workload, stats, final, final_ok}; with --machine {machine, "
				   "machine_pid, epc, paging, ewb, backing, va, driver, enclaves, "
				   "processes}"),
	TOOL_HELP_OPTION,
	{ 0 },
};

static const struct tool_doc stat_doc = {
	.name = "stat",
	.synopsis = "sgxemu stat [--json] [--epc-mb N] [--enclaves N] [--pages N]\n"
		    "            [--limit-pct P] [--va-policy kernel|on-demand]\n"
		    "sgxemu stat --machine PATH [--json] [--watch SECONDS]",
	.description =
		"Starts an emulated SGX machine with the kernel's SGX core and its "
		"reclaimer thread, runs a workload that overcommits the EPC, and prints "
		"the core's statistics: total and free EPC pages per node, the page "
		"cache's allocations, steals and lock takes, pages written back and "
		"loaded, EWB retries by cause, the tracking (ETRACK, kicks, waits), "
		"aging hits and misses, backing pages charged against the limit, VA "
		"pages and the policy that makes them, poisoned and kept frames, the "
		"reclaimer's batches.\n"
		"\n"
		"The workload: N enclaves of RW pages; every page is added, written, "
		"then read back and checked (page 0 of each enclave is read every "
		TOOL_STR(STAT_HOT_EVERY) " pages, so aging finds it young).  Then every "
		"enclave is released and the final state printed, which must be empty: "
		"every frame free, no backing charge, no VA page.\n"
		"\n"
		"With --machine PATH it starts nothing and reads the machine serving at "
		"PATH instead: the EPC per node; each enclave file (id, base, size, "
		"state, pages resident and written back, VA pages, backing charged, "
		"write-backs, loads and faults since CREATE, and the client processes "
		"holding a descriptor of it); each client process (pid, its handles and "
		"enclaves, the EPC pages of those enclaves); the machine's paging "
		"counters, EWB retries by cause, backing charged against the limit, VA "
		"pages, and the driver's counters.",
	.opts = stat_opts,
	.exit_ok = "Every page read back was right and the final state is empty; with "
		   "--machine, the machine was read (and, with --watch, a signal ended "
		   "the watch).",
	.exit_fail = "A page read back was wrong, the workload failed other than by "
		     "the backing limit, or the final state is not empty; with --machine, "
		     "no machine answers at PATH or it stopped answering.",
	.examples = " sgxemu stat\n"
		    " sgxemu stat --epc-mb 16 --enclaves 8 --va-policy on-demand --json\n"
		    " sgxemu stat --machine /tmp/m.sock --watch 2",
};

struct stat_run {
	/* Options. */
	bool json;
	const char *machine; /* --machine */
	uint64_t watch; /* --watch, seconds; 0: one reading */
	char workload_opt[64]; /* a workload option given, for the refusal */
	uint64_t epc_mb, nr_encl, pages, limit_pct;
	enum sgx_va_policy va_policy;
	/* The machine. */
	struct sgx_cpu *cpu;
	struct sgx_core *core;
	uint64_t frames, limit;
	struct wl_encl *encls;
	/* What the workload did. */
	uint64_t checked; /* pages read back and found right */
	int stop_err; /* 0, or the error the workload stopped with */
	uint64_t stop_encl, stop_page;
	const char *stop_phase;
	bool stop_by_limit; /* the backing limit stopped it: reported, not failed */
	struct sgx_core_stats loaded, final;
	char check[256]; /* sgx_core_check()'s answer after release */
	bool final_ok;
};

static int stat_options(struct stat_run *s, int argc, char **argv)
{
	int c;

	s->epc_mb = STAT_EPC_MB;
	s->nr_encl = STAT_ENCLAVES;
	s->limit_pct = STAT_LIMIT_PCT;
	s->va_policy = SGX_VA_POLICY_KERNEL;
	struct tool_getopt g = { .cmd = "stat", .opts = stat_opts };

	while ((c = tool_getopt(&g, argc, argv)) != -1) {
		if (c == OPT_EPC_MB || c == OPT_ENCLAVES || c == OPT_PAGES || c == OPT_LIMIT ||
		    c == OPT_VA_POLICY)
			snprintf(s->workload_opt, sizeof(s->workload_opt), "%s",
				 tool_optname(&g, c));
		switch (c) {
		case OPT_MACHINE:
			if (!optarg[0])
				return tool_usage("stat", "--machine: an empty path");
			s->machine = optarg;
			break;
		case OPT_WATCH:
			if (parse_u64(optarg, STAT_MAX_WATCH, &s->watch) || !s->watch)
				return tool_usage("stat", "--watch: '%s' is not in 1..%d seconds",
						  optarg, STAT_MAX_WATCH);
			break;
		case OPT_EPC_MB:
			if (parse_u64(optarg, STAT_MAX_EPC_MB, &s->epc_mb) || !s->epc_mb)
				return tool_usage("stat", "--epc-mb: '%s' is not in 1..%d", optarg,
						  STAT_MAX_EPC_MB);
			break;
		case OPT_ENCLAVES:
			if (parse_u64(optarg, STAT_MAX_ENCLAVES, &s->nr_encl))
				return tool_usage("stat", "--enclaves: '%s' is not in 0..%d", optarg,
						  STAT_MAX_ENCLAVES);
			break;
		case OPT_PAGES:
			if (parse_u64(optarg, STAT_MAX_TOTAL_PAGES, &s->pages) || !s->pages)
				return tool_usage("stat", "--pages: '%s' is not in 1..%llu", optarg,
						  STAT_MAX_TOTAL_PAGES);
			break;
		case OPT_LIMIT:
			if (parse_u64(optarg, STAT_MAX_LIMIT_PCT, &s->limit_pct))
				return tool_usage("stat", "--limit-pct: '%s' is not in 0..%d", optarg,
						  STAT_MAX_LIMIT_PCT);
			break;
		case OPT_VA_POLICY:
			if (sgx_va_policy_parse(optarg, &s->va_policy))
				return tool_usage("stat", "--va-policy: '%s' is not kernel or on-demand",
						  optarg);
			break;
		case OPT_JSON:
			s->json = true;
			break;
		case 'h':
			tool_help(&stat_doc);
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return tool_usage("stat", "unexpected argument '%s'", argv[optind]);
	if (s->machine && s->workload_opt[0])
		return tool_usage("stat", "%s sets the workload, which --machine does not run",
				  s->workload_opt);
	if (s->watch && !s->machine)
		return tool_usage("stat", "--watch reads a running machine: it needs --machine");
	return 0;
}

/* The machine, the core with its reclaimer, and the workload's size. */
static int stat_machine(struct stat_run *s)
{
	struct sgx_core_config cfg;
	int ret;

	ret = build_machine(0, s->epc_mb << 20, SGX_LC_WRITABLE, &s->cpu);
	if (ret)
		return tool_fail("stat", "cannot create a machine of %llu MiB: %s",
				 (unsigned long long)s->epc_mb, strerror(-ret));
	s->frames = sgx_cpu_nr_frames(s->cpu);
	s->limit = s->frames * s->limit_pct / 100;
	if (s->nr_encl && !s->pages)
		s->pages = STAT_OVERCOMMIT * s->frames / s->nr_encl ?: 1;
	if (s->nr_encl * s->pages > STAT_MAX_TOTAL_PAGES)
		return tool_error("stat", "%llu enclaves of %llu pages: more than %llu pages in all",
				  (unsigned long long)s->nr_encl, (unsigned long long)s->pages,
				  STAT_MAX_TOTAL_PAGES);
	sgx_core_config_default(&cfg);
	cfg.backing_limit = s->limit;
	cfg.va_policy = s->va_policy;
	ret = sgx_core_create(s->cpu, &cfg, &s->core);
	if (ret)
		return tool_fail("stat", "cannot start the SGX core: %s", strerror(-ret));
	s->encls = calloc(s->nr_encl ? s->nr_encl : 1, sizeof(*s->encls));
	if (!s->encls)
		return tool_fail("stat", "out of memory");
	return 0;
}

/* Records where the workload stopped.  Running out of backing (the limit
 * refused write-backs, or is reached, so no EPC page could be had) is an
 * outcome to show; anything else fails the command. */
static int stat_stop(struct stat_run *s, const char *phase, uint64_t encl, uint64_t page, int err)
{
	struct sgx_core_stats st;

	s->stop_err = err;
	s->stop_phase = phase;
	s->stop_encl = encl;
	s->stop_page = page;
	sgx_core_stats(s->core, &st);
	s->stop_by_limit = err == -ENOMEM &&
			   (st.backing_limit_hits > 0 || st.backing_charged >= st.backing_limit);
	if (s->stop_by_limit)
		return 0;
	if (err == -EBADMSG)
		return tool_fail("stat", "enclave %llu page %llu read back wrong after paging",
				 (unsigned long long)encl, (unsigned long long)page);
	return tool_fail("stat", "workload: %s of enclave %llu page %llu failed: %s", phase,
			 (unsigned long long)encl, (unsigned long long)page, strerror(-err));
}

/* Adds every enclave, writes every page, then reads every page back. */
static int stat_workload(struct stat_run *s)
{
	uint64_t at = 0;
	int ret;

	for (uint64_t e = 0; e < s->nr_encl; e++) {
		ret = wl_encl_create(s->core, e, s->pages, &s->encls[e], &at);
		if (ret)
			return stat_stop(s, "add", e, at, ret);
	}
	for (uint64_t e = 0; e < s->nr_encl; e++) {
		ret = wl_encl_write(&s->encls[e], 1, &at);
		if (ret)
			return stat_stop(s, "write", e, at, ret);
	}
	for (uint64_t e = 0; e < s->nr_encl; e++) {
		ret = wl_encl_verify(&s->encls[e], STAT_HOT_EVERY, &at);
		if (ret)
			return stat_stop(s, "read", e, at, ret);
		s->checked += s->pages;
	}
	return 0;
}

/* The statistics while the enclaves live, with no reclaim batch running. */
static int stat_snapshot(struct stat_run *s)
{
	sgx_core_quiesce(s->core);
	sgx_core_stats(s->core, &s->loaded);
	return 0;
}

/* Always runs: releases every enclave and checks nothing is left. */
static int stat_release(struct stat_run *s)
{
	uint64_t valid;

	if (!s->core)
		goto out_cpu;
	for (uint64_t e = 0; e < s->nr_encl && s->encls; e++)
		wl_encl_release(&s->encls[e]);
	sgx_core_quiesce(s->core);
	sgx_core_stats(s->core, &s->final);
	if (sgx_core_check(s->core, true, s->check, sizeof(s->check)) == 0)
		snprintf(s->check, sizeof(s->check), "ok");
	valid = sgx_cpu_nr_valid(s->cpu);
	s->final_ok = wl_stats_empty(&s->final) && !strcmp(s->check, "ok") &&
		      valid == s->final.epc_poisoned + s->final.epc_leaked;
	sgx_core_destroy(s->core);
	s->core = NULL;
out_cpu:
	if (s->cpu)
		sgx_cpu_destroy(s->cpu);
	s->cpu = NULL;
	free(s->encls);
	s->encls = NULL;
	return 0;
}

static void stat_print_json(const struct stat_run *s)
{
	char stop[160];
	struct json j;

	json_init(&j, stdout);
	json_begin_object(&j, NULL);
	json_u64(&j, "epc_mb", s->epc_mb);
	json_u64(&j, "epc_pages", s->frames);
	json_u64(&j, "backing_limit_pct", s->limit_pct);
	json_string(&j, "va_policy", sgx_va_policy_name(s->va_policy));
	json_begin_object(&j, "workload");
	json_u64(&j, "enclaves", s->nr_encl);
	json_u64(&j, "pages_per_enclave", s->nr_encl ? s->pages : 0);
	json_u64(&j, "total_pages", s->nr_encl * s->pages);
	json_double(&j, "overcommit", s->frames ? (double)(s->nr_encl * s->pages) / s->frames : 0);
	json_u64(&j, "pages_checked", s->checked);
	if (s->stop_err) {
		snprintf(stop, sizeof(stop), "%s of enclave %llu page %llu: %s", s->stop_phase,
			 (unsigned long long)s->stop_encl, (unsigned long long)s->stop_page,
			 s->stop_by_limit ? "backing limit reached" : strerror(-s->stop_err));
		json_string(&j, "stopped", stop);
	} else {
		json_null(&j, "stopped");
	}
	json_end_object(&j);
	wl_stats_json(&j, "stats", &s->loaded);
	wl_stats_json(&j, "final", &s->final);
	json_string(&j, "check", s->check);
	json_bool(&j, "final_ok", s->final_ok);
	json_end_object(&j);
	json_finish(&j);
}

static void stat_print_human(const struct stat_run *s)
{
	const struct sgx_core_stats *f = &s->final;

	printf("sgxemu stat: an emulated SGX machine, EPC of %llu pages (%llu MiB), reclaimer on\n",
	       (unsigned long long)s->frames, (unsigned long long)s->epc_mb);
	printf("VA policy: %s\n", s->va_policy == SGX_VA_POLICY_KERNEL
					   ? "kernel (one VA page per 512 pages of an enclave, "
					     "made as pages are added, kept until release)"
					   : "on-demand (VA pages made and freed as pages are "
					     "written back and loaded)");
	if (s->nr_encl)
		printf("workload: %llu enclaves of %llu pages (%.1fx the EPC), backing limit %llu%% "
		       "(%llu pages);\n          pages added, written, read back: %llu checked\n",
		       (unsigned long long)s->nr_encl, (unsigned long long)s->pages,
		       (double)(s->nr_encl * s->pages) / s->frames,
		       (unsigned long long)s->limit_pct, (unsigned long long)s->limit,
		       (unsigned long long)s->checked);
	else
		printf("workload: none (an idle machine)\n");
	if (s->stop_by_limit)
		printf("workload stopped at %s of enclave %llu page %llu: backing limit reached\n",
		       s->stop_phase, (unsigned long long)s->stop_encl,
		       (unsigned long long)s->stop_page);
	printf("\n%s:\n", s->nr_encl ? "with the enclaves loaded" : "statistics");
	wl_stats_print(stdout, "  ", &s->loaded);
	printf("\nafter release: %llu of %llu EPC pages free, %llu backing pages charged, "
	       "%llu VA pages, %llu enclaves; check: %s\n",
	       (unsigned long long)f->epc_free, (unsigned long long)f->epc_total,
	       (unsigned long long)f->backing_charged, (unsigned long long)f->va_pages,
	       (unsigned long long)f->enclaves, s->check);
}

int cmd_stat(int argc, char **argv)
{
	struct stat_run *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return tool_fail("stat", "out of memory");
	snprintf(s->check, sizeof(s->check), "not run");
	ret = stat_options(s, argc, argv);
	if (ret) {
		ret = ret < 0 ? EXIT_OK : ret;
		goto out;
	}
	if (s->machine) {
		ret = stat_machine_run(s->machine, s->json, s->watch);
		goto out;
	}
	ret = stat_machine(s);
	if (!ret)
		ret = stat_workload(s);
	if (s->core)
		stat_snapshot(s);
	stat_release(s);
	if (!ret && !s->final_ok)
		ret = tool_fail("stat", "after release: %s",
				strcmp(s->check, "ok") ? s->check
						       : "pages, charges or VA pages left");
	if (s->frames && (!ret || ret == EXIT_CHECK_FAILED)) {
		if (s->json)
			stat_print_json(s);
		else
			stat_print_human(s);
	}
out:
	free(s);
	return ret;
}
