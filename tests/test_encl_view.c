/*
 * test_encl_view.c: application views of an enclave (sgxemu/view.h):
 * bytes touched through a view are the enclave's bytes both ways; pages
 * written back come back through the view's fault handler (ELDU); the
 * reclaimer's aging sees what was touched through the view, so a hot set
 * survives while cold pages are written back; two views see each other's
 * writes; a page whose backing was changed gives SIGBUS, never other
 * bytes; a view holds the enclave open after the owner's release; and
 * the reclaimer thread and two touching threads together lose no write.
 * Every case ends with nothing left: frames, charges, VA pages, fds.
 *
 * Where userfaultfd is not available (EPERM, ENOSYS, an old kernel) the
 * cases say so and check only what needs no view.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core_helpers.h"
#include "sgxemu/view.h"

#define PAGE SGX_PAGE_SIZE

static struct sgx_core_config quiet_config(void)
{
	struct sgx_core_config cfg;

	sgx_core_config_default(&cfg);
	cfg.no_reclaimer_thread = true;
	return cfg;
}

/* A view, or false (with a note) where this system cannot make one. */
static bool view_or_note(struct sgx_encl *encl, struct sgx_encl_view **view)
{
	int ret = sgx_encl_view_create(encl, view);

	if (ret == -EPERM || ret == -ENOSYS || ret == -EOPNOTSUPP || ret == -EACCES) {
		printf("note: no userfaultfd here (%s): view checks skipped\n", strerror(-ret));
		*view = NULL;
		return false;
	}
	CHECK_MSG(ret == 0, "sgx_encl_view_create: %s", strerror(-ret));
	return true;
}

static void expect_page(const uint8_t *got, uint64_t tag, uint64_t index, const char *what)
{
	uint8_t want[PAGE];

	ch_fill(want, tag, index, 0);
	CHECK_MSG(memcmp(got, want, PAGE) == 0, "%s: page %" PRIu64 " differs", what, index);
}

/* Bytes of host memory the enclave's contents object holds, found by its
 * name among this process's descriptors (one enclave alive). */
static uint64_t contents_bytes(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	uint64_t bytes = UINT64_MAX;

	CHECK(d);
	while ((de = readdir(d))) {
		char path[300], link[128];
		struct stat stb;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strstr(link, "memfd:sgx enclave") && stat(path, &stb) == 0)
			bytes = (uint64_t)stb.st_blocks * 512;
	}
	closedir(d);
	CHECK_MSG(bytes != UINT64_MAX, "no contents object among the descriptors");
	return bytes;
}

static bool resident(struct sgx_encl *encl, uint64_t index)
{
	struct sgx_encl_page_info info;

	CHECK_EQ(sgx_encl_page_info(encl, index * PAGE, &info), 0);
	return info.resident;
}

TEST(view_bytes_are_the_enclave_bytes)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_view_stats vs;
	struct sgx_encl_view *view;
	struct ch_encl e;
	uint8_t buf[PAGE];
	uint8_t *v;

	CHECK_EQ(ch_build(core, 1, 8, 1, true, &e), 0);
	if (view_or_note(e.encl, &view)) {
		v = sgx_encl_view_addr(view);
		for (uint64_t i = 0; i < 8; i++)
			expect_page(v + i * PAGE, e.tag, i, "read through the view");
		/* Written through the view, read by the owner. */
		memset(v + 3 * PAGE + 100, 0xC3, 200);
		CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE + 100, buf, 200), 0);
		for (unsigned int k = 0; k < 200; k++)
			CHECK_MSG(buf[k] == 0xC3, "byte %u: %#x", k, buf[k]);
		/* Written by the owner, read through the view (mapped already). */
		memset(buf, 0x4D, 300);
		CHECK_EQ(sgx_encl_write(e.encl, 4 * PAGE + 4000, buf, 300), 0);
		for (unsigned int k = 0; k < 300; k++)
			CHECK_MSG(v[4 * PAGE + 4000 + k] == 0x4D, "byte %u: %#x", k,
				  v[4 * PAGE + 4000 + k]);
		sgx_encl_view_stats(view, &vs);
		CHECK_EQ(vs.minor_faults, 8); /* one per page, the first touch */
		CHECK_EQ(vs.missing_faults, 0);
		CHECK_EQ(vs.sigbus, 0);
		sgx_encl_view_destroy(view);
	}
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/* Pages written back and touched through the view again: loaded, right,
 * with the host memory of the contents object as the policy says (keep:
 * the pages' memory stays, zeroed while they are out, and every fault is
 * minor; release: it goes back to the host while they are out, and a
 * touch of a written-back page is a missing fault). */
static void come_back_through_the_view(enum sgx_contents_policy policy)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	int fds = ch_count_fds();
	struct sgx_core_stats before, after;
	struct sgx_encl_view_stats vs;
	struct sgx_encl_view *view;
	struct ch_encl e;
	uint8_t want[PAGE];
	uint8_t *v;

	cfg.contents_policy = policy;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build(core, 2, 8, 1, true, &e), 0);
	if (view_or_note(e.encl, &view)) {
		v = sgx_encl_view_addr(view);
		for (uint64_t i = 0; i < 8; i++)
			v[i * PAGE + 8 * i] = (uint8_t)(0xA0 + i); /* a mark per page */
		for (uint64_t i = 0; i < 8; i++) {
			CHECK_EQ(sgx_encl_evict(e.encl, i * PAGE), 0);
			CHECK(!resident(e.encl, i));
		}
		/* With the TCS out too, the SECS goes. */
		CHECK_EQ(sgx_encl_evict(e.encl, ch_tcs_offset(&e, 0)), 0);
		CHECK_EQ(sgx_encl_evict(e.encl, e.size), -EALREADY);
		/* Every page out: its memory went back to the host, or stays
		 * for the next load. */
		CHECK_EQ(contents_bytes(), policy == SGX_CONTENTS_RELEASE ? 0 : 9 * PAGE);
		CHECK_EQ(sgx_core_stats(core, &before), 0);
		for (uint64_t i = 0; i < 8; i++) {
			ch_fill(want, e.tag, i, 0);
			want[8 * i] = (uint8_t)(0xA0 + i);
			CHECK_MSG(memcmp(v + i * PAGE, want, PAGE) == 0,
				  "page %" PRIu64 " differs after the round trip", i);
			CHECK(resident(e.encl, i));
		}
		CHECK_EQ(sgx_core_stats(core, &after), 0);
		CHECK_EQ(after.pages_loaded - before.pages_loaded, 8);
		CHECK_EQ(after.secs_loaded - before.secs_loaded, 1);
		/* Under release the TCS is still out. */
		CHECK_EQ(contents_bytes(), policy == SGX_CONTENTS_RELEASE ? 8 * PAGE : 9 * PAGE);
		sgx_encl_view_stats(view, &vs);
		if (policy == SGX_CONTENTS_RELEASE) {
			CHECK_EQ(vs.missing_faults, 8);
			CHECK_EQ(vs.minor_faults, 8); /* the marks' first touches */
		} else {
			CHECK_EQ(vs.missing_faults, 0);
			CHECK_EQ(vs.minor_faults, 16);
		}
		sgx_encl_view_destroy(view);
	}
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/*
 * An enclave of 96 pages over 64 frames.  Between reclaim rounds the
 * application touches only pages 0..7 through the view.  The aging must
 * see those touches (each a minor fault after the zap) and keep the hot
 * set resident, while every cold page is written back.
 */
TEST(written_back_pages_come_back_through_the_view_keep)
{
	come_back_through_the_view(SGX_CONTENTS_KEEP);
}

TEST(written_back_pages_come_back_through_the_view_release)
{
	come_back_through_the_view(SGX_CONTENTS_RELEASE);
}

TEST(aging_keeps_what_the_view_touches)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_view_stats vs;
	struct sgx_core_stats st;
	struct sgx_encl_view *view;
	struct ch_encl e;
	uint64_t cold_resident = 0;
	volatile uint8_t sink = 0;
	uint8_t *v;

	CHECK_EQ(ch_build(core, 3, 96, 1, true, &e), 0);
	if (view_or_note(e.encl, &view)) {
		v = sgx_encl_view_addr(view);
		for (unsigned int round = 0; round < 40; round++) {
			for (uint64_t i = 0; i < 8; i++)
				sink += v[i * PAGE + round];
			(void)sgx_core_reclaim(core);
		}
		(void)sink;
		for (uint64_t i = 0; i < 8; i++)
			CHECK_MSG(resident(e.encl, i), "hot page %" PRIu64 " was written back", i);
		for (uint64_t i = 8; i < 96; i++)
			cold_resident += resident(e.encl, i);
		CHECK_MSG(cold_resident == 0, "%" PRIu64 " cold pages still resident",
			  cold_resident);
		CHECK_EQ(sgx_core_stats(core, &st), 0);
		CHECK_GE(st.age_hits, 8);
		sgx_encl_view_stats(view, &vs);
		/* Each zap by the aging comes back as one minor fault. */
		CHECK_GE(vs.minor_faults, 8 + 8);
		CHECK_EQ(vs.sigbus, 0);
		for (uint64_t i = 0; i < 96; i += 13)
			expect_page(v + i * PAGE, e.tag, i, "after aging");
		sgx_encl_view_destroy(view);
	}
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/* Under the release policy, so that B's touch of the written-back page is
 * a missing fault and A's a minor one. */
TEST(two_views_see_each_others_writes)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	int fds = ch_count_fds();
	struct sgx_encl_view_stats vs;
	struct sgx_encl_view *a, *b;
	struct ch_encl e;
	uint8_t *va, *vb;

	cfg.contents_policy = SGX_CONTENTS_RELEASE;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build(core, 4, 4, 1, true, &e), 0);
	if (view_or_note(e.encl, &a)) {
		CHECK_EQ(sgx_encl_view_create(e.encl, &b), 0);
		va = sgx_encl_view_addr(a);
		vb = sgx_encl_view_addr(b);
		CHECK(va != vb);
		va[2 * PAGE + 5] = 0x11;
		CHECK_EQ(vb[2 * PAGE + 5], 0x11);
		vb[2 * PAGE + 6] = 0x22;
		CHECK_EQ(va[2 * PAGE + 6], 0x22);
		/* Written back: both views lose the page; B faults it in. */
		CHECK_EQ(sgx_encl_evict(e.encl, 2 * PAGE), 0);
		CHECK_EQ(vb[2 * PAGE + 5], 0x11);
		vb[2 * PAGE + 7] = 0x33;
		/* A finds it resident again: a minor fault. */
		CHECK_EQ(va[2 * PAGE + 7], 0x33);
		CHECK_EQ(va[2 * PAGE + 6], 0x22);
		sgx_encl_view_stats(a, &vs);
		CHECK_EQ(vs.minor_faults, 2);
		CHECK_EQ(vs.missing_faults, 0);
		sgx_encl_view_stats(b, &vs);
		CHECK_EQ(vs.minor_faults, 1);
		CHECK_EQ(vs.missing_faults, 1);
		sgx_encl_view_destroy(b);
		sgx_encl_view_destroy(a);
	}
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

static sigjmp_buf bus_jmp;
static volatile void *bus_addr;
static volatile int bus_code;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_addr = si->si_addr;
	bus_code = si->si_code;
	siglongjmp(bus_jmp, 1);
}

/* Reads one byte through the view: true and the byte, or false on SIGBUS. */
static bool touch(volatile uint8_t *p, uint8_t *out)
{
	if (sigsetjmp(bus_jmp, 1))
		return false;
	*out = *p;
	return true;
}

TEST(changed_backing_gives_sigbus_never_other_bytes)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_view_stats vs;
	struct sgx_core_stats st;
	struct sigaction sa, old;
	struct sgx_encl_view *view;
	struct ch_encl e;
	uint8_t byte = 0, saved, buf[8];
	uint64_t off;
	uint8_t *v;
	int bfd;

	CHECK_EQ(ch_build(core, 5, 4, 1, true, &e), 0);
	if (view_or_note(e.encl, &view)) {
		v = sgx_encl_view_addr(view);
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		CHECK_EQ(sigaction(SIGBUS, &sa, &old), 0);

		CHECK_EQ(sgx_encl_evict(e.encl, 1 * PAGE), 0);
		bfd = sgx_encl_backing_fd(e.encl);
		off = sgx_encl_backing_page_offset(e.encl, 1) + 77;
		CHECK_EQ(pread(bfd, &saved, 1, (off_t)off), 1);
		byte = saved ^ 0x01;
		CHECK_EQ(pwrite(bfd, &byte, 1, (off_t)off), 1);
		for (int k = 0; k < 2; k++) {
			bus_addr = NULL;
			CHECK_MSG(!touch(v + PAGE + 3, &byte), "read %#x from a changed page", byte);
			/* A fault's SIGBUS names the address; where the kernel
			 * has no poisoned entries the handler sends it. */
			CHECK_MSG(bus_code == SI_TKILL || bus_addr == v + PAGE + 3 ||
					  bus_addr == v + PAGE,
				  "SIGBUS (code %d) at %p, touched %p", bus_code, (void *)bus_addr,
				  (void *)(v + PAGE + 3));
		}
		CHECK(!resident(e.encl, 1));
		/* A page never added: SIGBUS too. */
		CHECK_MSG(!touch(v + 6 * PAGE, &byte), "read %#x from a page never added", byte);
		/* Other pages are unharmed. */
		CHECK(touch(v + 2 * PAGE, &byte));
		CHECK_EQ(sgx_core_stats(core, &st), 0);
		CHECK_GE(st.load_failures, 1);
		/* Put right, the owner loads it and the view sees it again. */
		CHECK_EQ(pwrite(bfd, &saved, 1, (off_t)off), 1);
		CHECK_EQ(sgx_encl_read(e.encl, PAGE, buf, sizeof(buf)), 0);
		CHECK(touch(v + PAGE, &byte));
		CHECK_EQ(byte, buf[0]);
		/* Where the view could poison its entry, the second touch of
		 * page 1 took SIGBUS without asking the handler. */
		sgx_encl_view_stats(view, &vs);
		CHECK_GE(vs.sigbus, 2);
		CHECK_EQ(sigaction(SIGBUS, &old, NULL), 0);
		sgx_encl_view_destroy(view);
	}
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

/* A child made by fork() has no copy of a view: its copy would not be
 * registered with the view's userfaultfd, nor zapped by the reclaimer, so
 * it would read a written-back page as zeros and write past the fault
 * path.  Its touch faults instead. */
TEST(fork_child_has_no_view)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_view *view;
	struct ch_encl e;
	int status = 0;
	pid_t pid;

	CHECK_EQ(ch_build(core, 8, 4, 0, true, &e), 0);
	if (view_or_note(e.encl, &view)) {
		volatile uint8_t *v = sgx_encl_view_addr(view);

		CHECK_EQ(sgx_encl_evict(e.encl, 2 * PAGE), 0);
		CHECK(!resident(e.encl, 2));
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			signal(SIGSEGV, SIG_DFL);
			signal(SIGBUS, SIG_DFL);
			_exit(v[2 * PAGE] == 0 ? 10 : 11); /* read without a fault */
		}
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
			  "the child read the view (status %#x: exit %d, signal %d)", status,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			  WIFSIGNALED(status) ? WTERMSIG(status) : -1);
		CHECK(!resident(e.encl, 2));
		sgx_encl_view_destroy(view);
	}
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, fds);
}

TEST(view_holds_the_enclave_after_release)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core = ch_core(cpu, &cfg);
	int fds = ch_count_fds();
	struct sgx_encl_view *views[SGX_ENCL_VIEWS_MAX], *extra;
	struct sgx_core_stats st;
	struct ch_encl e;
	uint8_t *v;

	CHECK_EQ(sgx_encl_view_create(NULL, &extra), -EINVAL);
	CHECK_EQ(ch_build(core, 6, 4, 1, true, &e), 0);
	if (view_or_note(e.encl, &views[0])) {
		for (unsigned int i = 1; i < SGX_ENCL_VIEWS_MAX; i++)
			CHECK_EQ(sgx_encl_view_create(e.encl, &views[i]), 0);
		CHECK_EQ(sgx_encl_view_create(e.encl, &extra), -ENOSPC);
		for (unsigned int i = 1; i < SGX_ENCL_VIEWS_MAX; i++)
			sgx_encl_view_destroy(views[i]);
		CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), 0);
		sgx_encl_release(e.encl);
		/* Still there, and the reclaimer may still page it. */
		CHECK_EQ(sgx_core_stats(core, &st), 0);
		CHECK_EQ(st.enclaves, 1);
		v = sgx_encl_view_addr(views[0]);
		expect_page(v + 3 * PAGE, e.tag, 3, "after the owner's release");
		CHECK_GE(sgx_core_reclaim(core), 1);
		expect_page(v + 0 * PAGE, e.tag, 0, "after the owner's release");
		sgx_encl_view_destroy(views[0]);
	} else {
		sgx_encl_release(e.encl);
	}
	ch_finish(core, cpu, fds);
}

/* Two threads each own one word of every page and count their writes
 * through the view, while the reclaimer thread pages the enclave out. */
struct toucher {
	uint8_t *view;
	uint64_t pages;
	unsigned int word;
	uint64_t seed;
	uint32_t counts[192];
};

static void *toucher_main(void *p)
{
	struct toucher *t = p;

	for (unsigned int n = 0; n < 4000; n++) {
		uint64_t i = harness_rand(&t->seed) % t->pages;
		volatile uint32_t *w = (volatile uint32_t *)(t->view + i * PAGE) + t->word;

		*w = *w + 1;
		t->counts[i]++;
	}
	return NULL;
}

/* Views made and destroyed while the reclaimer zaps: each reads a few
 * pages, whose first word only grows. */
struct churner {
	struct sgx_encl *encl;
	uint64_t seed;
	unsigned int views;
	int err;
};

static void *churner_main(void *p)
{
	struct churner *c = p;

	for (unsigned int n = 0; n < 20 && !c->err; n++) {
		struct sgx_encl_view *view;
		volatile uint8_t sink = 0;
		uint8_t *v;

		c->err = sgx_encl_view_create(c->encl, &view);
		if (c->err)
			break;
		v = sgx_encl_view_addr(view);
		for (unsigned int k = 0; k < 16; k++)
			sink += v[(harness_rand(&c->seed) % 192) * PAGE];
		(void)sink;
		sgx_encl_view_destroy(view);
		c->views++;
	}
	return NULL;
}

TEST(reclaimer_and_view_threads_lose_no_write)
{
	struct sgx_core_config cfg;
	struct sgx_cpu *cpu = ch_machine(64);
	struct sgx_core *core;
	int fds = ch_count_fds();
	struct toucher t[2];
	struct churner ch = { .seed = 77 };
	pthread_t th[3];
	struct sgx_core_stats st;
	struct sgx_encl_view *view;
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	struct sgx_secs secs;
	struct sgx_encl *encl;
	uint8_t zero[PAGE] = { 0 };

	sgx_core_config_default(&cfg);
	cfg.backing_limit = 1024; /* 192 pages over 64 frames */
	core = ch_core(cpu, &cfg);
	memset(&secs, 0, sizeof(secs));
	secs.size = 256 * PAGE;
	secs.base = 256 * PAGE;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_MODE64BIT;
	secs.xfrm = SGX_XFRM_LEGACY;
	CHECK_EQ(sgx_encl_create(core, &secs, NULL, NULL, &encl), 0);
	for (uint64_t i = 0; i < 192; i++)
		CHECK_EQ(sgx_encl_add_page(encl, i * PAGE, zero, &secinfo, 0), 0);
	if (view_or_note(encl, &view)) {
		for (unsigned int k = 0; k < 2; k++) {
			memset(&t[k], 0, sizeof(t[k]));
			t[k].view = sgx_encl_view_addr(view);
			t[k].pages = 192;
			t[k].word = k * 7;
			t[k].seed = 0x5eed + k;
			CHECK_EQ(pthread_create(&th[k], NULL, toucher_main, &t[k]), 0);
		}
		ch.encl = encl;
		CHECK_EQ(pthread_create(&th[2], NULL, churner_main, &ch), 0);
		for (unsigned int k = 0; k < 3; k++)
			pthread_join(th[k], NULL);
		CHECK_MSG(ch.err == 0, "a view made meanwhile: %s", strerror(-ch.err));
		CHECK_EQ(ch.views, 20);
		for (uint64_t i = 0; i < 192; i++) {
			uint32_t w[8];

			CHECK_EQ(sgx_encl_read(encl, i * PAGE, w, sizeof(w)), 0);
			CHECK_MSG(w[0] == t[0].counts[i], "page %" PRIu64 ": %u writes, %u counted",
				  i, w[0], t[0].counts[i]);
			CHECK_MSG(w[7] == t[1].counts[i], "page %" PRIu64 ": %u writes, %u counted",
				  i, w[7], t[1].counts[i]);
		}
		CHECK_EQ(sgx_core_stats(core, &st), 0);
		CHECK_GT(st.pages_written_back, 0);
		CHECK_GT(st.pages_loaded, 0);
		sgx_encl_view_destroy(view);
	}
	sgx_encl_release(encl);
	ch_finish(core, cpu, fds);
}

/* A page written back leaves none of its bytes in the contents object
 * (what a machine's clients map), under either policy: zeros there until
 * it is loaded again, with its own bytes. */
static void written_back_leaves_zeros(enum sgx_contents_policy policy)
{
	struct sgx_core_config cfg = quiet_config();
	struct sgx_cpu *cpu = ch_machine(64);
	static const uint8_t zero[PAGE];
	struct sgx_core *core;
	struct ch_encl e;
	uint8_t want[PAGE], got[PAGE];
	const uint8_t *contents;

	cfg.contents_policy = policy;
	core = ch_core(cpu, &cfg);
	CHECK_EQ(ch_build(core, 6, 8, 1, true, &e), 0);
	contents = sgx_encl_contents_addr(e.encl);
	ch_fill(want, e.tag, 3, 0);
	CHECK(memcmp(contents + 3 * PAGE, want, PAGE) == 0);
	CHECK_EQ(sgx_encl_evict(e.encl, 3 * PAGE), 0);
	CHECK(memcmp(contents + 3 * PAGE, zero, PAGE) == 0);
	CHECK_EQ(sgx_encl_read(e.encl, 3 * PAGE, got, PAGE), 0);
	CHECK(memcmp(got, want, PAGE) == 0);
	CHECK(memcmp(contents + 3 * PAGE, want, PAGE) == 0);
	sgx_encl_release(e.encl);
	ch_finish(core, cpu, -1);
}

TEST(written_back_page_leaves_zeros_keep)
{
	written_back_leaves_zeros(SGX_CONTENTS_KEEP);
}

TEST(written_back_page_leaves_zeros_release)
{
	written_back_leaves_zeros(SGX_CONTENTS_RELEASE);
}
