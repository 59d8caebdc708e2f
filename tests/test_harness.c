/*
 * test_harness.c: the test runner's own promises (harness.c): every
 * HARNESS_SEED is a generator state xorshift64* can leave (0 and strings
 * that are not numbers included), and a randomized case that fails has
 * its seed printed, however it failed.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Runs this program again with HARNESS_SEED=seed and HARNESS_SELFTEST=mode
 * on the one case named, and reads what it printed (stdout and stderr). */
static int rerun(const char *seed, const char *mode, const char *name, char *out, size_t outlen)
{
	int fds[2], status;
	size_t len = 0;
	pid_t pid;

	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		setenv("HARNESS_SEED", seed, 1);
		setenv("HARNESS_SELFTEST", mode, 1);
		setenv("HARNESS_TIMEOUT", "2", 1);
		execl("/proc/self/exe", "test_harness", name, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], out + len, outlen - 1 - len);

		if (n <= 0)
			break;
		len += n;
		if (len == outlen - 1)
			break;
	}
	out[len] = '\0';
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(seed_zero_is_a_valid_state)
{
	uint64_t st = harness_seed_from("0", 1);
	uint64_t dflt = harness_seed_from(NULL, 0);

	CHECK_MSG(st != 0, "HARNESS_SEED=0 gives state %#llx", (unsigned long long)st);
	CHECK_MSG(dflt != 0, "a default of 0 gives state %#llx", (unsigned long long)dflt);
	/* The generator moves from it: not the all-zero fixed point. */
	CHECK_CMP(harness_rand(&st), !=, 0);
	CHECK_CMP(st, !=, 0);
	CHECK_CMP(harness_rand(&st), !=, harness_rand(&st));
}

TEST(numeric_seeds_are_taken_as_they_are)
{
	CHECK_EQ(harness_seed_from("12345", 1), 12345);
	CHECK_EQ(harness_seed_from("0x5eed", 1), 0x5eed);
	CHECK_EQ(harness_seed_from(NULL, 0x77), 0x77);
}

TEST(non_numeric_seeds_are_valid_distinct_states)
{
	const char *strs[] = { "abc", "abd", "", "12x", "-1", " 5", "0x" };
	uint64_t seen[sizeof(strs) / sizeof(strs[0])];

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		uint64_t st = harness_seed_from(strs[i], 1);

		seen[i] = st;
		CHECK_MSG(st != 0, "HARNESS_SEED='%s' gives state 0", strs[i]);
		CHECK_EQ(harness_seed_from(strs[i], 2), st);
		CHECK_CMP(harness_rand(&st), !=, 0);
		for (size_t j = 0; j < i; j++)
			CHECK_MSG(seen[j] != seen[i], "'%s' and '%s' give the same state %#llx",
				  strs[j], strs[i], (unsigned long long)seen[i]);
	}
}

/* The subject of the next case: passes unless run by it, then fails in
 * the way HARNESS_SELFTEST says, after taking a seed. */
TEST(selftest_subject)
{
	const char *mode = getenv("HARNESS_SELFTEST");
	uint64_t st;

	if (!mode)
		return;
	st = harness_seed(0x5eed);
	(void)harness_rand(&st);
	if (!strcmp(mode, "check"))
		CHECK_EQ(st, 0);
	if (!strcmp(mode, "crash"))
		raise(SIGSEGV);
	if (!strcmp(mode, "hang"))
		pause();
}

TEST(failing_randomized_case_prints_its_seed)
{
	static const char *modes[] = { "check", "crash", "hang" };
	char out[4096];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int rc = rerun("0x1234abcd", modes[i], "selftest_subject", out, sizeof(out));

		CHECK_MSG(rc == 1, "%s: exit %d, want 1; output:\n%s", modes[i], rc, out);
		CHECK_MSG(strstr(out, "FAIL selftest_subject"), "%s: no FAIL line in:\n%s",
			  modes[i], out);
		CHECK_MSG(strstr(out, "HARNESS_SEED=0x1234abcd selftest_subject repeats it"),
			  "%s: the seed is not printed in:\n%s", modes[i], out);
	}
	/* 0 is printed as the state it stands for, which repeats the run. */
	CHECK_EQ(rerun("0", "check", "selftest_subject", out, sizeof(out)), 1);
	CHECK_MSG(strstr(out, "HARNESS_SEED='0' taken as seed 0x"), "no note for seed 0 in:\n%s",
		  out);
	/* A case that passes prints no seed. */
	CHECK_EQ(rerun("7", "", "selftest_subject", out, sizeof(out)), 0);
	CHECK_MSG(!strstr(out, "repeats it"), "a passing case printed a seed:\n%s", out);
}
