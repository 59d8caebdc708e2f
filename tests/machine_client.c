/*
 * machine_client.c: a small client of a machine for the shell tests
 * (cli_stat_machine.sh): through the runtime's calls, on the machine named
 * by SGXEMU_MACHINE, it opens N enclave handles, CREATEs an enclave of
 * SIZE bytes on each (base (i + 1) * 4 GiB) and adds PAGES RW pages to it,
 * then prints what it made:
 *
 *   enclave I BASE SIZE PAGES
 *   ready PID [CHILD_PID]
 *
 * and holds everything until its standard input closes; then it closes
 * its handles and exits 0.  With --dup each handle gets a second
 * descriptor (dup); with --fork a child that inherited the descriptors
 * (and asked the machine once, so the machine knows it) holds them too,
 * until the same end of input.  Any failure: a message, exit 1.
 *
 *   machine_client [--dup] [--fork] N SIZE PAGES
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sgxemu/arch.h"
#include "sgxemu/runtime.h"
#include "sgxemu/uapi_sgx.h"

#define MAX_ENCLAVES 64

static int die(const char *what)
{
	fprintf(stderr, "machine_client: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Reads standard input until it closes. */
static void hold(void)
{
	char buf[256];

	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sgxp_machine_stats st;
	int fds[MAX_ENCLAVES], dups[MAX_ENCLAVES];
	bool dup_fds = false, fork_child = false;
	unsigned long n, size, pages;
	uint8_t *src;
	pid_t child = 0;
	int a = 1, status;

	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "--dup"))
			dup_fds = true;
		else if (!strcmp(argv[a], "--fork"))
			fork_child = true;
		else
			break;
	}
	if (argc - a != 3) {
		fprintf(stderr, "usage: machine_client [--dup] [--fork] N SIZE PAGES\n");
		return 2;
	}
	n = strtoul(argv[a], NULL, 0);
	size = strtoul(argv[a + 1], NULL, 0);
	pages = strtoul(argv[a + 2], NULL, 0);
	if (!n || n > MAX_ENCLAVES || pages * SGX_PAGE_SIZE > size) {
		fprintf(stderr, "machine_client: bad N, SIZE or PAGES\n");
		return 2;
	}
	src = mmap(NULL, pages * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return die("mmap");
	for (unsigned long i = 0; i < pages * SGX_PAGE_SIZE; i++)
		src[i] = (uint8_t)(i * 7 + 1);
	for (unsigned long i = 0; i < n; i++) {
		static struct sgx_secinfo si = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R |
							  SGX_SECINFO_W };
		struct sgx_secs secs;
		struct sgx_enclave_create c = { .src = (uint64_t)(uintptr_t)&secs };
		struct sgx_enclave_add_pages ap = {
			.src = (uint64_t)(uintptr_t)src,
			.offset = 0,
			.length = pages * SGX_PAGE_SIZE,
			.secinfo = (uint64_t)(uintptr_t)&si,
			.flags = SGX_PAGE_MEASURE,
		};

		fds[i] = sgxrt_open("/dev/sgx_enclave", O_RDWR);
		if (fds[i] < 0)
			return die("open");
		dups[i] = dup_fds ? dup(fds[i]) : -1;
		memset(&secs, 0, sizeof(secs));
		secs.size = size;
		secs.base = (i + 1) << 32;
		secs.ssa_frame_size = 1;
		secs.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
		secs.xfrm = SGX_XFRM_LEGACY;
		if (sgxrt_ioctl(fds[i], SGX_IOC_ENCLAVE_CREATE, &c))
			return die("CREATE");
		if (sgxrt_ioctl(fds[i], SGX_IOC_ENCLAVE_ADD_PAGES, &ap) ||
		    ap.count != pages * SGX_PAGE_SIZE)
			return die("ADD_PAGES");
		printf("enclave %lu %#llx %lu %lu\n", i, (unsigned long long)secs.base, size, pages);
	}
	/* Write-backs the pages caused are over before the figures are read. */
	if (sgxrt_machine_stats(&st, SGXP_STATS_QUIESCE))
		return die("STATS");
	if (fork_child) {
		int ready[2];
		char c;

		if (pipe(ready))
			return die("pipe");
		fflush(stdout);
		child = fork();
		if (child < 0)
			return die("fork");
		if (child == 0) {
			close(ready[0]);
			/* Known to the machine from its first connection. */
			if (sgxrt_machine_stats(&st, 0))
				_exit(die("STATS in the child"));
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			hold();
			_exit(0);
		}
		close(ready[1]);
		if (read(ready[0], &c, 1) != 1)
			return die("the child");
		close(ready[0]);
		printf("ready %d %d\n", (int)getpid(), (int)child);
	} else {
		printf("ready %d\n", (int)getpid());
	}
	fflush(stdout);
	hold();
	for (unsigned long i = 0; i < n; i++) {
		sgxrt_close(fds[i]);
		if (dups[i] >= 0)
			close(dups[i]);
	}
	if (child > 0 && (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
			  WEXITSTATUS(status)))
		return die("the child's end");
	return 0;
}
