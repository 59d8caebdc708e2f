/*
 * test_machine.c: the machine process and its enclave device through the
 * runtime: handles, CREATE, ADD_PAGES, INIT, the statistics, and every
 * release accounted (machine_helpers.h).
 */
#include "machine_helpers.h"

/* Opening and closing handles: each is a real descriptor; the machine
 * releases it at the last close. */
TEST(open_and_close_handles)
{
	struct sgxp_machine_stats st;
	int a, b;

	mh_start();
	a = mh_open();
	b = sgxrt_open("/dev/sgx/provision", O_RDONLY | O_CLOEXEC);
	CHECK_CMP(b, >=, 0);
	CHECK_EQ(fcntl(b, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ(fcntl(a, F_GETFD) & FD_CLOEXEC, 0);
	mh_stats(&st);
	CHECK_EQ(st.handles, 2);
	CHECK_EQ(st.provision_handles, 1);
	CHECK_EQ(st.encl_files, 1);
	CHECK_EQ(st.processes, 1);
	CHECK_EQ(sgxrt_open("/dev/sgx_vepc", O_RDWR), -1);
	CHECK_EQ(errno, ENOENT);
	CHECK_EQ(sgxrt_open("/dev/null", O_RDWR), -1);
	CHECK_EQ(errno, ENOENT);
	CHECK_EQ(sgxrt_close(a), 0);
	CHECK_EQ(sgxrt_close(b), 0);
	mh_finish();
}

/* An enclave built and initialized through the machine, then released
 * with every page at the handle's close. */
TEST(build_init_release)
{
	struct sgxp_machine_stats st;
	int fd;

	mh_start();
	fd = mh_open();
	CHECK_EQ(mh_build(fd, 7, 20, 2, true), 0);
	mh_stats(&st);
	CHECK_EQ(st.enclaves, 1);
	/* SECS, 22 pages and one VA page. */
	CHECK_EQ(st.epc_total - st.epc_free, 24);
	CHECK_EQ(sgxrt_close(fd), 0);
	mh_finish();
}

/* Without a machine named, the device files do not exist. */
TEST(no_machine_is_enoent)
{
	unsetenv("SGXEMU_MACHINE");
	CHECK_EQ(sgxrt_set_machine(NULL), 0);
	CHECK_EQ(sgxrt_open("/dev/sgx_enclave", O_RDWR), -1);
	CHECK_EQ(errno, ENOENT);
}
