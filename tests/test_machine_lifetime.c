/*
 * test_machine_lifetime.c: an enclave file lives while any descriptor of
 * its handle is open, in any process (dup, fork, SCM_RIGHTS), and its
 * release returns every EPC page, VA page and backing charge; clients are
 * processes known until they exit; two processes share one EPC; the
 * machine's socket path is never taken from a file it did not make.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "machine/machine.h"
#include "machine_helpers.h"

/* An enclave bigger than the 1 MiB EPC: pages are written back (charged)
 * while it is built. */
#define L_PAGES 400

static void l_expect_enclaves(uint64_t n)
{
	struct sgxp_machine_stats st;

	mh_stats(&st);
	CHECK_EQ(st.enclaves, n);
}

TEST(dup_keeps_the_enclave_until_the_last_close)
{
	struct sgxp_machine_stats st;
	int fd, fd2;

	mh_start();
	fd = mh_open();
	CHECK_EQ(mh_build(fd, 1, L_PAGES, 1, true), 0);
	mh_stats(&st);
	CHECK_CMP(st.pages_written_back, >, 0);
	CHECK_CMP(st.backing_charged, >, 0);
	fd2 = dup(fd);
	CHECK(fd2 >= 0);
	CHECK_EQ(sgxrt_close(fd), 0);
	l_expect_enclaves(1);
	/* The copy is a handle as good as the first. */
	CHECK_EQ(mh_add(fd2, mh_pages(1, 1), 0, SGX_PAGE_SIZE, 0,
			SGX_SECINFO_REG | SGX_SECINFO_R, NULL),
		 EINVAL); /* initialized: no more pages */
	CHECK_EQ(sgxrt_close(fd2), 0);
	mh_finish();
}

/* A forked child's copy keeps the enclave and works in the child (a new
 * client process); the child's exit releases it. */
TEST(fork_child_holds_and_uses_the_handle)
{
	struct sgxp_machine_stats st;
	int fd, pipefd[2], status;
	pid_t child;
	char c;

	mh_start();
	fd = mh_open();
	CHECK_EQ(mh_build(fd, 2, L_PAGES, 1, false), 0);
	CHECK_EQ(pipe(pipefd), 0);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		struct sgx_sigstruct sig;
		struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)&sig };
		uint64_t size = 512 * SGX_PAGE_SIZE;

		close(pipefd[1]);
		/* Wait until the parent has closed its copy. */
		if (read(pipefd[0], &c, 1) != 1)
			_exit(3);
		mh_sign(2, size, L_PAGES, 1, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG, &sig);
		_exit(mh_ioctl(fd, SGX_IOC_ENCLAVE_INIT, &in) == 0 ? 0 : 4);
	}
	close(pipefd[0]);
	CHECK_EQ(sgxrt_close(fd), 0);
	l_expect_enclaves(1);
	CHECK_EQ(write(pipefd[1], "x", 1), 1);
	close(pipefd[1]);
	CHECK_EQ(waitpid(child, &status, 0), child);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	mh_stats(&st);
	CHECK_EQ(st.processes, 1);
	CHECK_CMP(st.processes_exited, >=, 1);
	mh_finish();
}

static int l_send_fd(int sock, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char b = 'h';
	struct iovec iov = { &b, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };

	memset(&cm, 0, sizeof(cm));
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int l_recv_fd(int sock)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char b;
	struct iovec iov = { &b, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	int fd;

	if (recvmsg(sock, &msg, 0) != 1 || !CMSG_FIRSTHDR(&msg))
		return -1;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	return fd;
}

/* A handle passed over a unix socket: the receiver (a process that has
 * not talked to the machine before) builds and initializes the enclave
 * the sender opened; the sender has closed its copy, and the receiver's
 * close releases everything. */
TEST(scm_rights_handle_is_used_by_the_receiver)
{
	int sv[2], fd, status;
	pid_t child;

	mh_start();
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		int got, err;

		close(sv[0]);
		got = l_recv_fd(sv[1]);
		if (got < 0)
			_exit(3);
		err = mh_build(got, 3, L_PAGES, 2, true);
		sgxrt_close(got);
		_exit(err ? 10 + err : 0);
	}
	close(sv[1]);
	fd = mh_open();
	CHECK_EQ(l_send_fd(sv[0], fd), 0);
	CHECK_EQ(sgxrt_close(fd), 0);
	close(sv[0]);
	CHECK_EQ(waitpid(child, &status, 0), child);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	mh_finish();
}

/* A handle in flight (sent, not yet received) is still open: the enclave
 * stays until the message is dropped with the socket. */
TEST(handle_in_flight_keeps_the_enclave)
{
	int sv[2], fd;

	mh_start();
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fd = mh_open();
	CHECK_EQ(mh_build(fd, 4, 8, 1, true), 0);
	CHECK_EQ(l_send_fd(sv[0], fd), 0);
	CHECK_EQ(sgxrt_close(fd), 0);
	l_expect_enclaves(1);
	close(sv[0]);
	close(sv[1]);
	mh_finish();
}

/* Two client processes on one machine, each with its enclaves, together
 * three times the EPC: one's building writes back the other's pages. */
TEST(two_processes_share_one_epc)
{
	struct sgxp_machine_stats st;
	int pipefd[2], status, fd;
	pid_t child;
	char c;

	/* Room for every page in backing: 1000% of the EPC. */
	mh_start_ex("1M", "1000");
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pipefd), 0);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		int cfd = mh_open(), err;

		close(pipefd[0]);
		err = mh_build(cfd, 5, L_PAGES, 1, true);
		/* Hold the enclave while the parent builds its own. */
		if (write(pipefd[1], err ? "e" : "k", 1) != 1)
			_exit(3);
		if (read(pipefd[1], &c, 1) != 0)
			_exit(4);
		sgxrt_close(cfd);
		_exit(err ? 10 + err : 0);
	}
	CHECK_EQ(read(pipefd[0], &c, 1), 1);
	CHECK_EQ(c, 'k');
	mh_stats(&st);
	CHECK_EQ(st.processes, 2);
	fd = mh_open();
	CHECK_EQ(mh_build(fd, 6, 2 * L_PAGES, 1, true), 0);
	mh_stats(&st);
	CHECK_EQ(st.enclaves, 2);
	CHECK_CMP(st.pages_written_back, >=, L_PAGES);
	close(pipefd[0]); /* the child's read sees the end */
	CHECK_EQ(waitpid(child, &status, 0), child);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	l_expect_enclaves(1);
	CHECK_EQ(sgxrt_close(fd), 0);
	mh_finish();
}

/* The machine stops on SIGTERM with enclaves still held: it releases
 * them, exits 0, and the client's next call fails with EIO. */
TEST(machine_stop_releases_and_clients_get_eio)
{
	struct sgx_secs secs;
	siginfo_t si;
	int fd, status;
	pid_t mpid;

	mpid = mh_start();
	fd = mh_open();
	CHECK_EQ(mh_build(fd, 7, L_PAGES, 1, true), 0);
	CHECK_EQ(kill(mpid, SIGTERM), 0);
	memset(&si, 0, sizeof(si));
	CHECK_EQ(waitid(P_PID, mpid, &si, WEXITED | WNOWAIT), 0);
	CHECK_EQ(si.si_code, CLD_EXITED);
	CHECK_EQ(si.si_status, 0);
	mh_secs(&secs, 4 * SGX_PAGE_SIZE, 4 * SGX_PAGE_SIZE);
	CHECK_EQ(mh_create(fd, &secs), EIO);
	/* And again, on a new connection that finds no machine. */
	CHECK_EQ(mh_create(fd, &secs), EIO);
	CHECK_EQ(sgxrt_close(fd), 0);
	status = sgxrt_machine_stop();
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "machine status %#x", status);
}

/* The socket path: a file that is not a socket is refused and kept; a
 * stale socket is replaced; a live machine's is refused; a machine
 * removes only the socket it made. */
TEST(machine_socket_path_rules)
{
	struct sgx_machine_config cfg;
	struct sgx_machine *m, *m2;
	char dir[] = "/tmp/sgxemu-path-XXXXXX", path[128], why[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.sock", dir);
	sgx_machine_config_default(&cfg);
	cfg.epc_bytes = 256 * SGX_PAGE_SIZE;
	cfg.socket_path = path;

	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(sgx_machine_create(&cfg, &m, why, sizeof(why)), -EEXIST);
	CHECK_EQ(stat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(unlink(path), 0);

	/* A stale socket: bound, never listened on, closed. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(sa.sun_path, path);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	CHECK_MSG(sgx_machine_create(&cfg, &m, why, sizeof(why)) == 0, "%s", why);
	CHECK_EQ(sgx_machine_create(&cfg, &m2, why, sizeof(why)), -EADDRINUSE);
	CHECK_EQ(sgx_machine_destroy(m), 0);
	CHECK_EQ(stat(path, &st), -1);

	/* Replaced behind the machine's back: not removed at the end. */
	CHECK_MSG(sgx_machine_create(&cfg, &m, why, sizeof(why)) == 0, "%s", why);
	CHECK_EQ(unlink(path), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK_EQ(sgx_machine_destroy(m), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(dir), 0);
}
