/*
 * test_arena.c: the processor's state in shared memory (cpu.h, the arena)
 * and the core's contents placement (core.h).
 *
 * A machine is made inside a memfd mapped at a reserved address; the core
 * places each enclave's contents object in the same reserved range.  A
 * forked child then drops every inherited mapping of that range, maps the
 * same memfds at the same addresses again, as an unrelated process would,
 * attaches to the machine and runs leaves on the parent's enclave: the
 * EENTER bookkeeping (seen busy by the parent), EGETKEY (the parent's key),
 * and reads of an enclave page through the frame's bytes.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "core_helpers.h"

#define ARENA_RESERVE (1ULL << 32)
#define MAX_CONTENTS 8

struct placement {
	uint8_t *base; /* the reserved range */
	uint64_t cpu_size; /* the machine's part at its start */
	uint8_t *next; /* where the next contents object goes */
	int cpu_fd;
	unsigned int nr;
	struct {
		int fd; /* a copy of the enclave's contents memfd */
		void *addr;
		uint64_t size;
	} contents[MAX_CONTENTS];
	unsigned int maps, unmaps;
};

static int place_map(void *ctx, int fd, uint64_t size, void **addr)
{
	struct placement *p = ctx;
	void *a;

	if (p->nr == MAX_CONTENTS)
		return -ENOSPC;
	a = mmap(p->next, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd,
		 0);
	if (a == MAP_FAILED)
		return -errno;
	p->contents[p->nr].fd = dup(fd);
	p->contents[p->nr].addr = a;
	p->contents[p->nr].size = size;
	p->nr++;
	p->maps++;
	p->next += size;
	*addr = a;
	return 0;
}

static void place_unmap(void *ctx, void *addr, uint64_t size)
{
	struct placement *p = ctx;

	/* Back to reserved, inaccessible memory. */
	(void)mmap(addr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		   -1, 0);
	for (unsigned int i = 0; i < p->nr; i++)
		if (p->contents[i].addr == addr && p->contents[i].fd >= 0) {
			close(p->contents[i].fd);
			p->contents[i].fd = -1;
		}
	p->unmaps++;
}

static struct sgx_cpu *arena_machine(struct placement *p, uint64_t frames)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	uint64_t size;

	memset(p, 0, sizeof(*p));
	sgx_cpu_config_default(&cfg, frames * SGX_PAGE_SIZE);
	cfg.seeded = true;
	memset(cfg.seed, 0x5a, sizeof(cfg.seed));
	size = sgx_cpu_arena_size(&cfg);
	CHECK_GT(size, frames * SGX_PAGE_SIZE);
	p->base = mmap(NULL, ARENA_RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	CHECK(p->base != MAP_FAILED);
	p->cpu_fd = memfd_create("sgx arena", MFD_CLOEXEC);
	CHECK_GE(p->cpu_fd, 0);
	CHECK_EQ(ftruncate(p->cpu_fd, (off_t)size), 0);
	CHECK(mmap(p->base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, p->cpu_fd, 0) ==
	      p->base);
	p->cpu_size = size;
	p->next = p->base + ((size + (1 << 21) - 1) & ~((uint64_t)(1 << 21) - 1));

	CHECK_EQ(sgx_cpu_create_in(&cfg, p->base, size - 1, &cpu), -ENOSPC);
	CHECK_EQ(sgx_cpu_create_in(&cfg, p->base + 1, size, &cpu), -EINVAL);
	CHECK_EQ(sgx_cpu_attach(p->base, &cpu), -EINVAL); /* nothing there yet */
	CHECK_EQ(sgx_cpu_create_in(&cfg, p->base, size, &cpu), 0);
	CHECK(cpu == (struct sgx_cpu *)p->base);
	/* Every frame lies in the arena. */
	CHECK((uint8_t *)sgx_cpu_frame_addr(cpu, 0) > p->base);
	CHECK((uint8_t *)sgx_cpu_frame_addr(cpu, frames - 1) + SGX_PAGE_SIZE <= p->base + size);
	return cpu;
}

/* In the child: forget the inherited mappings and map the memfds again at
 * the same places, as a process that received them would. */
static void child_remap(const struct placement *p)
{
	if (mmap(p->base, ARENA_RESERVE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != p->base)
		_exit(10);
	if (mmap(p->base, p->cpu_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, p->cpu_fd,
		 0) != p->base)
		_exit(11);
	for (unsigned int i = 0; i < p->nr; i++)
		if (p->contents[i].fd >= 0 &&
		    mmap(p->contents[i].addr, p->contents[i].size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, p->contents[i].fd, 0) != p->contents[i].addr)
			_exit(12);
}

static void seal_request(struct sgx_keyrequest *req)
{
	memset(req, 0, sizeof(*req));
	req->keyname = SGX_KEYNAME_SEAL;
	req->keypolicy = SGX_KEYPOLICY_MRSIGNER;
	for (int i = 0; i < 32; i++)
		req->keyid[i] = (uint8_t)(i * 7);
}

TEST(arena_leaves_run_in_another_process)
{
	struct sgx_core_contents_ops ops = { place_map, place_unmap, NULL };
	struct sgx_encl_page_info tcs, reg, secs;
	static struct sgx_keyrequest req __attribute__((aligned(512)));
	uint8_t key[16] __attribute__((aligned(16))), child_key[16] = { 0 };
	uint8_t page[SGX_PAGE_SIZE];
	struct sgx_core_config ccfg;
	struct sgx_cpu_thread t = { 0 };
	struct placement p;
	struct sgx_core *core;
	struct sgx_cpu *cpu;
	struct ch_encl e;
	int to_child[2], to_parent[2], status, fds;
	char c;
	pid_t pid;

	fds = ch_count_fds();
	cpu = arena_machine(&p, 256);
	ops.ctx = &p;
	sgx_core_config_default(&ccfg);
	ccfg.no_reclaimer_thread = true;
	ccfg.contents_ops = &ops;
	core = ch_core(cpu, &ccfg);
	CHECK_EQ(ch_build(core, 3, 4, 1, true, &e), 0);
	CHECK_EQ(p.maps, 1);
	/* The core's mapping of the contents is where the hook put it. */
	CHECK(sgx_encl_contents_addr(e.encl) == p.contents[0].addr);
	CHECK_GE(sgx_encl_contents_fd(e.encl), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, ch_tcs_offset(&e, 0), &tcs), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, 2 * SGX_PAGE_SIZE, &reg), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, e.size, &secs), 0);
	CHECK(tcs.resident && reg.resident && secs.resident);
	/* The page's bytes are in the contents object, inside the arena. */
	CHECK((uint8_t *)sgx_cpu_frame_bytes(cpu, reg.epc_addr) >= p.base &&
	      (uint8_t *)sgx_cpu_frame_bytes(cpu, reg.epc_addr) < p.base + ARENA_RESERVE);

	seal_request(&req);
	CHECK_EQ(enclu_egetkey(cpu, secs.epc_addr, &req, key), 0);
	ch_fill(page, 3, 2, 0);

	CHECK_EQ(pipe(to_child), 0);
	CHECK_EQ(pipe(to_parent), 0);
	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		struct sgx_cpu *mine;
		struct sgx_cpu_thread ct = { 0 };
		uint8_t k[16] __attribute__((aligned(16)));

		child_remap(&p);
		if (sgx_cpu_attach(p.base, &mine) || mine != cpu)
			_exit(20);
		if (memcmp(sgx_cpu_frame_bytes(mine, reg.epc_addr), page, SGX_PAGE_SIZE))
			_exit(21);
		if (sgx_cpu_thread_enter(mine, &ct, tcs.epc_addr))
			_exit(22);
		if (enclu_egetkey(mine, secs.epc_addr, &req, k))
			_exit(23);
		if (write(to_parent[1], k, 16) != 16)
			_exit(24);
		/* Stay inside until the parent has seen the TCS busy. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(25);
		sgx_cpu_thread_exit(mine, &ct);
		if (write(to_parent[1], "x", 1) != 1)
			_exit(26);
		_exit(0);
	}
	CHECK_EQ(read(to_parent[0], child_key, 16), 16);
	CHECK_MEM(child_key, key, 16);
	/* The child's EENTER bookkeeping is in the shared EPCM. */
	CHECK_EQ(sgx_cpu_thread_enter(cpu, &t, tcs.epc_addr), GP);
	CHECK_EQ(write(to_child[1], "g", 1), 1);
	CHECK_EQ(read(to_parent[0], &c, 1), 1);
	CHECK_EQ(sgx_cpu_thread_enter(cpu, &t, tcs.epc_addr), 0);
	sgx_cpu_thread_exit(cpu, &t);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);

	sgx_encl_release(e.encl);
	CHECK_EQ(p.unmaps, 1);
	ch_check_empty(core, 0);
	sgx_core_destroy(core);
	sgx_cpu_destroy(cpu);
	CHECK_EQ(sgx_cpu_attach(p.base, &cpu), -EINVAL); /* marked empty */
	close(p.cpu_fd);
	CHECK_EQ(ch_count_fds(), fds);
	CHECK_EQ(munmap(p.base, ARENA_RESERVE), 0);
}

/* The default path is unchanged: no hook, mmap chooses. */
TEST(arena_size_refuses_bad_config)
{
	struct sgx_cpu_config cfg;

	sgx_cpu_config_default(&cfg, 64 * SGX_PAGE_SIZE);
	cfg.nr_sections = 0;
	CHECK_EQ(sgx_cpu_arena_size(&cfg), 0);
}

/* A client killed with a thread inside: the TCS stays busy and the
 * tracking counts the thread until the machine reaps the dead process's
 * threads; then the TCS can be entered and ETRACK's epoch completes. */
TEST(killed_client_inside_is_reaped)
{
	struct sgx_core_contents_ops ops = { place_map, place_unmap, NULL };
	struct sgx_encl_page_info tcs, secs;
	struct sgx_core_config ccfg;
	struct sgx_cpu_thread t = { 0 };
	struct placement p;
	struct sgx_core *core;
	struct sgx_cpu *cpu;
	struct ch_encl e;
	int to_parent[2], status;
	char c;
	pid_t pid;

	cpu = arena_machine(&p, 256);
	ops.ctx = &p;
	sgx_core_config_default(&ccfg);
	ccfg.no_reclaimer_thread = true;
	ccfg.contents_ops = &ops;
	core = ch_core(cpu, &ccfg);
	CHECK_EQ(ch_build(core, 5, 4, 2, true, &e), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, ch_tcs_offset(&e, 1), &tcs), 0);
	CHECK_EQ(sgx_encl_page_info(e.encl, e.size, &secs), 0);
	CHECK_EQ(pipe(to_parent), 0);
	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		struct sgx_cpu *mine;
		struct sgx_cpu_thread ct = { 0 };

		child_remap(&p);
		if (sgx_cpu_attach(p.base, &mine) || sgx_cpu_thread_enter(mine, &ct, tcs.epc_addr))
			_exit(20);
		if (write(to_parent[1], "i", 1) != 1)
			_exit(21);
		for (;;)
			pause();
	}
	CHECK_EQ(read(to_parent[0], &c, 1), 1);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status));
	/* Dead, and still inside as far as the processor knows. */
	CHECK_EQ(sgx_cpu_thread_enter(cpu, &t, tcs.epc_addr), GP);
	CHECK_EQ(encls_etrack(cpu, secs.epc_addr), 0);
	CHECK_EQ(encls_etrack(cpu, secs.epc_addr), SGX_PREV_TRK_INCMPL);
	CHECK_EQ(sgx_cpu_thread_reap(cpu, getpid()), 0); /* not ours */
	CHECK_EQ(sgx_cpu_thread_reap(cpu, pid), 1);
	CHECK_EQ(sgx_cpu_thread_reap(cpu, pid), 0);
	CHECK_EQ(encls_etrack(cpu, secs.epc_addr), 0); /* the epoch completed */
	CHECK_EQ(sgx_cpu_thread_enter(cpu, &t, tcs.epc_addr), 0);
	sgx_cpu_thread_exit(cpu, &t);
	CHECK_EQ(sgx_cpu_check(cpu), 0);
	close(to_parent[0]);
	close(to_parent[1]);
	sgx_encl_release(e.encl);
	ch_check_empty(core, 0);
	sgx_core_destroy(core);
	sgx_cpu_destroy(cpu);
	close(p.cpu_fd);
	for (unsigned int i = 0; i < p.nr; i++)
		if (p.contents[i].fd >= 0)
			close(p.contents[i].fd);
	CHECK_EQ(munmap(p.base, ARENA_RESERVE), 0);
}
