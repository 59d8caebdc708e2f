/*
 * stat_machine.c: `sgxemu stat --machine PATH [--json] [--watch SECONDS]`:
 * the statistics of a running machine, read through the runtime's calls
 * (STATS, then STATS_LIST for its nodes, enclave files and processes).
 *
 * Before it connects, the command looks at PATH itself, so that a missing
 * file, a file that is no socket, and a stale socket (nobody listens) each
 * get a message that names the path; a machine that stops during a watch
 * ends the command the same way.  SIGINT and SIGTERM end a watch, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sgxemu/core.h"
#include "sgxemu/proto.h"
#include "sgxemu/runtime.h"
#include "tools/json.h"
#include "tools/tools.h"

/* Entries read per list: more are counted, not shown. */
#define SM_MAX_ENTRIES 4096

struct sm_reading {
	struct sgxp_machine_stats st;
	struct sgxp_node_entry *nodes;
	struct sgxp_encl_entry *encls;
	struct sgxp_proc_entry *procs;
	size_t nr_nodes, nr_encls, nr_procs; /* stored */
	size_t all_nodes, all_encls, all_procs; /* listed by the machine */
};

static volatile sig_atomic_t sm_stop;

static void sm_on_signal(int sig)
{
	sm_stop = 1;
}

/* What is at path, as a sentence for the refusal; 0 if a machine listens. */
static int sm_probe(const char *path, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, len, "%s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	if (stat(path, &st)) {
		err = errno;
		snprintf(why, len, "no machine at %s: %s", path, strerror(err));
		return -err;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, len, "%s is not a machine's socket (not a socket)", path);
		return -ENOTSOCK;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		snprintf(why, len, "%s: %s", path, strerror(err));
		return -err;
	}
	strcpy(sa.sun_path, path);
	err = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
	close(fd);
	if (err == ECONNREFUSED)
		snprintf(why, len, "no machine answers at %s (a stale socket: the machine is gone)",
			 path);
	else if (err == EPROTOTYPE)
		snprintf(why, len, "%s is not a machine's socket (another kind of socket)", path);
	else if (err)
		snprintf(why, len, "cannot reach the machine at %s: %s", path, strerror(err));
	return -err;
}

static void sm_free(struct sm_reading *r)
{
	free(r->nodes);
	free(r->encls);
	free(r->procs);
	memset(r, 0, sizeof(*r));
}

/* One reading: the counters and the three lists.  0 or -errno. */
static int sm_read(struct sm_reading *r)
{
	memset(r, 0, sizeof(*r));
	r->nodes = calloc(SGX_CORE_STATS_MAX_NODES, sizeof(*r->nodes));
	r->encls = calloc(SM_MAX_ENTRIES, sizeof(*r->encls));
	r->procs = calloc(SM_MAX_ENTRIES, sizeof(*r->procs));
	if (!r->nodes || !r->encls || !r->procs)
		return -ENOMEM;
	if (sgxrt_machine_stats(&r->st, 0) ||
	    sgxrt_machine_list(SGXP_LIST_NODES, r->nodes, sizeof(*r->nodes),
			       SGX_CORE_STATS_MAX_NODES, &r->all_nodes) ||
	    sgxrt_machine_list(SGXP_LIST_ENCLAVES, r->encls, sizeof(*r->encls), SM_MAX_ENTRIES,
			       &r->all_encls) ||
	    sgxrt_machine_list(SGXP_LIST_PROCESSES, r->procs, sizeof(*r->procs), SM_MAX_ENTRIES,
			       &r->all_procs))
		return -errno;
	r->nr_nodes = r->all_nodes < SGX_CORE_STATS_MAX_NODES ? r->all_nodes
							       : SGX_CORE_STATS_MAX_NODES;
	r->nr_encls = r->all_encls < SM_MAX_ENTRIES ? r->all_encls : SM_MAX_ENTRIES;
	r->nr_procs = r->all_procs < SM_MAX_ENTRIES ? r->all_procs : SM_MAX_ENTRIES;
	return 0;
}

static const char *sm_state(uint32_t state)
{
	if (state & SGXP_ENCL_INITIALIZED)
		return "initialized";
	if (state & SGXP_ENCL_CREATED)
		return "created";
	return "open";
}

static void sm_print_json(const char *path, const struct sm_reading *r)
{
	const struct sgxp_machine_stats *s = &r->st;
	struct json j;

	json_init(&j, stdout);
	json_begin_object(&j, NULL);
	json_string(&j, "machine", path);
	json_u64(&j, "machine_pid", s->machine_pid);
	json_begin_object(&j, "epc");
	json_u64(&j, "total", s->epc_total);
	json_u64(&j, "free", s->epc_free);
	json_u64(&j, "in_use", s->epc_total - s->epc_free - s->epc_poisoned - s->epc_leaked);
	json_u64(&j, "poisoned", s->epc_poisoned);
	json_u64(&j, "kept", s->epc_leaked);
	json_u64(&j, "epcm_valid", s->epcm_valid);
	json_begin_array(&j, "nodes");
	for (size_t i = 0; i < r->nr_nodes; i++) {
		json_begin_object(&j, NULL);
		json_u64(&j, "index", r->nodes[i].index);
		json_i64(&j, "nid", r->nodes[i].nid);
		json_u64(&j, "total", r->nodes[i].total);
		json_u64(&j, "free", r->nodes[i].free);
		json_u64(&j, "in_use", r->nodes[i].in_use);
		json_u64(&j, "poisoned", r->nodes[i].poisoned);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_begin_object(&j, "paging");
	json_u64(&j, "pages_written_back", s->pages_written_back);
	json_u64(&j, "secs_written_back", s->secs_written_back);
	json_u64(&j, "pages_loaded", s->pages_loaded);
	json_u64(&j, "secs_loaded", s->secs_loaded);
	json_u64(&j, "load_failures", s->load_failures);
	json_u64(&j, "faults", s->core_faults);
	json_u64(&j, "faults_loaded", s->core_faults_loaded);
	json_u64(&j, "lru_pages", s->lru_pages);
	json_u64(&j, "age_hits", s->age_hits);
	json_u64(&j, "age_misses", s->age_misses);
	json_u64(&j, "reclaim_batches", s->reclaim_batches);
	json_u64(&j, "direct_reclaims", s->direct_reclaims);
	json_end_object(&j);
	json_begin_object(&j, "ewb");
	json_u64(&j, "retry_etrack", s->ewb_retry_etrack);
	json_u64(&j, "retry_ipi", s->ewb_retry_ipi);
	json_u64(&j, "gave_up", s->ewb_gave_up);
	json_u64(&j, "failures", s->ewb_failures);
	json_u64(&j, "etracks", s->ewb_etracks);
	json_u64(&j, "kicks", s->ewb_kicks);
	json_end_object(&j);
	json_begin_object(&j, "backing");
	json_u64(&j, "limit", s->backing_limit);
	json_u64(&j, "charged", s->backing_charged);
	json_u64(&j, "limit_hits", s->backing_limit_hits);
	json_end_object(&j);
	json_begin_object(&j, "va");
	json_string(&j, "policy", sgx_va_policy_name((enum sgx_va_policy)s->va_policy)
					  ?: "unknown");
	json_u64(&j, "pages", s->va_pages);
	json_u64(&j, "slots_used", s->va_slots_used);
	json_end_object(&j);
	json_begin_object(&j, "driver");
	json_u64(&j, "core_enclaves", s->enclaves);
	json_u64(&j, "encl_files", s->encl_files);
	json_u64(&j, "handles", s->handles);
	json_u64(&j, "provision_handles", s->provision_handles);
	json_u64(&j, "processes", s->processes);
	json_u64(&j, "connections", s->connections);
	json_u64(&j, "ioctls", s->ioctls);
	json_u64(&j, "ioctl_busy", s->ioctl_busy);
	json_u64(&j, "cancels", s->cancels);
	json_u64(&j, "processes_exited", s->processes_exited);
	json_u64(&j, "handles_released", s->handles_released);
	json_end_object(&j);
	json_u64(&j, "enclaves_listed", r->all_encls);
	json_begin_array(&j, "enclaves");
	for (size_t i = 0; i < r->nr_encls; i++) {
		const struct sgxp_encl_entry *e = &r->encls[i];

		json_begin_object(&j, NULL);
		json_u64(&j, "id", e->id);
		json_hex_u64(&j, "base", e->base);
		json_u64(&j, "size", e->size);
		json_string(&j, "state", sm_state(e->state));
		json_u64(&j, "pages", e->pages);
		json_u64(&j, "resident", e->resident);
		json_bool(&j, "secs_resident", e->secs_resident);
		json_u64(&j, "written_back", e->written_back);
		json_u64(&j, "va_pages", e->va_pages);
		json_u64(&j, "va_slots_used", e->va_slots_used);
		json_u64(&j, "epc_pages", e->resident + e->secs_resident + e->va_pages);
		json_u64(&j, "charged", e->charged);
		json_u64(&j, "writebacks", e->writebacks);
		json_u64(&j, "loads", e->loads);
		json_u64(&j, "faults", e->faults);
		json_u64(&j, "faults_loaded", e->faults_loaded);
		json_u64(&j, "handles", e->handles);
		json_u64(&j, "nr_owners", e->nr_owners);
		json_begin_array(&j, "owners");
		for (uint32_t k = 0; k < e->nr_owners && k < SGXP_ENCL_OWNERS; k++)
			json_i64(&j, NULL, e->owners[k]);
		json_end_array(&j);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_u64(&j, "processes_listed", r->all_procs);
	json_begin_array(&j, "processes");
	for (size_t i = 0; i < r->nr_procs; i++) {
		const struct sgxp_proc_entry *p = &r->procs[i];

		json_begin_object(&j, NULL);
		json_i64(&j, "pid", p->pid);
		json_u64(&j, "uid", p->uid);
		json_u64(&j, "connections", p->connections);
		json_u64(&j, "handles", p->handles);
		json_u64(&j, "descriptors", p->descriptors);
		json_u64(&j, "enclaves", p->enclaves);
		json_u64(&j, "epc_pages", p->epc_pages);
		json_bool(&j, "descriptors_known", !(p->flags & SGXP_PROC_FDS_UNKNOWN));
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
}

static double sm_pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

static void sm_print_text(const char *path, const struct sm_reading *r)
{
	const struct sgxp_machine_stats *s = &r->st;
	uint64_t in_use = s->epc_total - s->epc_free - s->epc_poisoned - s->epc_leaked;

	printf("sgxemu stat: the machine at %s (pid %llu)\n", path,
	       (unsigned long long)s->machine_pid);
	printf("EPC: %llu pages, %llu free, %llu in use, %llu poisoned, %llu kept; "
	       "EPCM valid %llu\n",
	       (unsigned long long)s->epc_total, (unsigned long long)s->epc_free,
	       (unsigned long long)in_use, (unsigned long long)s->epc_poisoned,
	       (unsigned long long)s->epc_leaked, (unsigned long long)s->epcm_valid);
	for (size_t i = 0; i < r->nr_nodes; i++)
		printf("  node %llu (nid %lld): %llu pages, %llu free, %llu in use, %llu poisoned\n",
		       (unsigned long long)r->nodes[i].index, (long long)r->nodes[i].nid,
		       (unsigned long long)r->nodes[i].total, (unsigned long long)r->nodes[i].free,
		       (unsigned long long)r->nodes[i].in_use,
		       (unsigned long long)r->nodes[i].poisoned);
	printf("paging: %llu pages written back (%llu SECS), %llu loaded (%llu SECS), "
	       "%llu load failures\n",
	       (unsigned long long)s->pages_written_back, (unsigned long long)s->secs_written_back,
	       (unsigned long long)s->pages_loaded, (unsigned long long)s->secs_loaded,
	       (unsigned long long)s->load_failures);
	printf("faults: %llu (%llu loaded a page); LRU %llu pages, aging %llu hits %llu misses, "
	       "%llu batches (%llu direct)\n",
	       (unsigned long long)s->core_faults, (unsigned long long)s->core_faults_loaded,
	       (unsigned long long)s->lru_pages, (unsigned long long)s->age_hits,
	       (unsigned long long)s->age_misses, (unsigned long long)s->reclaim_batches,
	       (unsigned long long)s->direct_reclaims);
	printf("EWB retries: %llu after ETRACK, %llu after kicks, %llu gave up, %llu other "
	       "failures (%llu ETRACKs, %llu kicks)\n",
	       (unsigned long long)s->ewb_retry_etrack, (unsigned long long)s->ewb_retry_ipi,
	       (unsigned long long)s->ewb_gave_up, (unsigned long long)s->ewb_failures,
	       (unsigned long long)s->ewb_etracks, (unsigned long long)s->ewb_kicks);
	printf("backing: %llu of %llu pages charged (%.1f%% of the limit), %llu write-backs "
	       "refused by it\n",
	       (unsigned long long)s->backing_charged, (unsigned long long)s->backing_limit,
	       sm_pct(s->backing_charged, s->backing_limit),
	       (unsigned long long)s->backing_limit_hits);
	printf("VA pages: %llu (%s policy), %llu slots used\n", (unsigned long long)s->va_pages,
	       sgx_va_policy_name((enum sgx_va_policy)s->va_policy) ?: "unknown",
	       (unsigned long long)s->va_slots_used);
	printf("driver: %llu enclave files, %llu handles (%llu provisioning), %llu ioctls "
	       "(%llu busy), %llu cancelled calls\n",
	       (unsigned long long)s->encl_files, (unsigned long long)s->handles,
	       (unsigned long long)s->provision_handles, (unsigned long long)s->ioctls,
	       (unsigned long long)s->ioctl_busy, (unsigned long long)s->cancels);

	printf("\nenclaves: %zu\n", r->all_encls);
	if (r->nr_encls)
		printf("  %4s %-18s %10s %-11s %8s %8s %8s %4s %8s %8s %8s %8s  %s\n", "id", "base",
		       "size", "state", "pages", "resident", "written", "va", "charged", "ewb",
		       "eldu", "faults", "owners");
	for (size_t i = 0; i < r->nr_encls; i++) {
		const struct sgxp_encl_entry *e = &r->encls[i];
		char owners[128] = "";
		size_t at = 0;

		for (uint32_t k = 0; k < e->nr_owners && k < SGXP_ENCL_OWNERS; k++)
			at += (size_t)snprintf(owners + at, sizeof(owners) - at, "%s%d", k ? "," : "",
					       e->owners[k]);
		if (e->nr_owners > SGXP_ENCL_OWNERS)
			snprintf(owners + at, sizeof(owners) - at, ",+%u",
				 e->nr_owners - SGXP_ENCL_OWNERS);
		if (!e->nr_owners)
			snprintf(owners, sizeof(owners), "-");
		printf("  %4llu %#-18llx %10llu %-11s %8llu %8llu %8llu %4llu %8llu %8llu %8llu "
		       "%8llu  %s\n",
		       (unsigned long long)e->id, (unsigned long long)e->base,
		       (unsigned long long)e->size, sm_state(e->state), (unsigned long long)e->pages,
		       (unsigned long long)(e->resident + e->secs_resident),
		       (unsigned long long)e->written_back, (unsigned long long)e->va_pages,
		       (unsigned long long)e->charged, (unsigned long long)e->writebacks,
		       (unsigned long long)e->loads, (unsigned long long)e->faults, owners);
	}
	printf("\nclient processes: %zu\n", r->all_procs);
	if (r->nr_procs)
		printf("  %8s %6s %5s %8s %8s %8s %9s\n", "pid", "uid", "conns", "handles",
		       "fds", "enclaves", "epc pages");
	for (size_t i = 0; i < r->nr_procs; i++) {
		const struct sgxp_proc_entry *p = &r->procs[i];

		if (p->flags & SGXP_PROC_FDS_UNKNOWN)
			printf("  %8lld %6llu %5llu %8s %8s %8s %9s\n", (long long)p->pid,
			       (unsigned long long)p->uid, (unsigned long long)p->connections, "?",
			       "?", "?", "?");
		else
			printf("  %8lld %6llu %5llu %8llu %8llu %8llu %9llu\n", (long long)p->pid,
			       (unsigned long long)p->uid, (unsigned long long)p->connections,
			       (unsigned long long)p->handles, (unsigned long long)p->descriptors,
			       (unsigned long long)p->enclaves, (unsigned long long)p->epc_pages);
	}
	printf("  (resident counts the SECS; written: pages and SECS in the backing; ewb, eldu: "
	       "since CREATE)\n");
}

/* Sleeps seconds, or less when a stop signal comes. */
static void sm_sleep(uint64_t seconds)
{
	struct timespec t = { .tv_sec = (time_t)seconds };

	while (!sm_stop && nanosleep(&t, &t) && errno == EINTR)
		;
}

int stat_machine_run(const char *path, bool json, uint64_t watch)
{
	struct sigaction sa = { .sa_handler = sm_on_signal };
	bool tty = isatty(STDOUT_FILENO);
	char why[512];
	int ret;

	if (sm_probe(path, why, sizeof(why)))
		return tool_fail("stat", "%s", why);
	if (sgxrt_set_machine(path))
		return tool_fail("stat", "out of memory");
	if (watch) {
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	for (uint64_t n = 0;; n++) {
		struct sm_reading r;

		ret = sm_read(&r);
		if (ret) {
			sm_free(&r);
			if (sm_stop)
				return EXIT_OK;
			if (ret == -ENOMEM)
				return tool_fail("stat", "out of memory");
			return tool_fail("stat", "the machine at %s %s: %s", path,
					 n ? "stopped answering" : "does not answer", strerror(-ret));
		}
		if (!json && watch && tty)
			fputs("\033[H\033[2J", stdout);
		else if (!json && n)
			fputs("\n", stdout);
		if (json)
			sm_print_json(path, &r);
		else
			sm_print_text(path, &r);
		fflush(stdout);
		sm_free(&r);
		if (!watch)
			return EXIT_OK;
		sm_sleep(watch);
		if (sm_stop)
			return EXIT_OK;
	}
}
