/*
 * test_debug.c: the assertion header (src/base/debug.h).  In a debug build
 * a failed SGXEMU_ASSERT aborts with the condition named on stderr and
 * SGXEMU_ASSERT_HELD tells a held mutex from one held by another thread or
 * by nobody; in other builds neither evaluates its argument.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/debug.h"
#include "harness.h"

static int evaluated;

static int side_effect(void)
{
	evaluated++;
	return 0;
}

/* Runs fn in a child with stderr in a pipe; returns its wait status and
 * what it wrote. */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
	int fds[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	CHECK_EQ(pipe(fds), 0);
	pid = fork();
	CHECK_GE(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)outlen - 1 && (n = read(fds[0], out + got, outlen - 1 - got)) > 0)
		got += n;
	out[got] = 0;
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return status;
}

static void failing_assert(void)
{
	int answer = 41;

	SGXEMU_ASSERT(answer == 42);
}

TEST(assert_fails_only_in_debug_builds)
{
	char out[512];
	int status = in_child(failing_assert, out, sizeof(out));

	if (SGXEMU_DEBUG_CHECKS) {
		CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
			  "child status %#x, want SIGABRT", status);
		CHECK_MSG(strstr(out, "answer == 42") && strstr(out, "failing_assert"),
			  "message \"%s\" does not name the condition and function", out);
	} else {
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
		CHECK_EQ(out[0], 0);
	}
	/* Outside debug builds the condition is not evaluated. */
	evaluated = 0;
	SGXEMU_ASSERT(side_effect() == 0);
	CHECK_EQ(evaluated, SGXEMU_DEBUG_CHECKS ? 1 : 0);
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *hold_and_ask(void *arg)
{
	bool *held_elsewhere = arg;

	*held_elsewhere = sgxemu_mutex_held(&m);
	return NULL;
}

TEST(mutex_held_tells_the_owner)
{
	pthread_mutex_t adaptive;
	pthread_mutexattr_t attr;
	bool other = true;
	pthread_t t;

#ifndef __GLIBC__
	printf("  note: not glibc: sgxemu_mutex_held() answers true always\n");
	return;
#endif
	CHECK(!sgxemu_mutex_held(&m));
	pthread_mutex_lock(&m);
	CHECK(sgxemu_mutex_held(&m));
	CHECK_EQ(pthread_create(&t, NULL, hold_and_ask, &other), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_MSG(!other, "another thread is told it holds a mutex this thread holds");
	pthread_mutex_unlock(&m);
	CHECK(!sgxemu_mutex_held(&m));

	/* The adaptive kind the core's hot locks use. */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&adaptive, &attr);
	pthread_mutexattr_destroy(&attr);
	CHECK(!sgxemu_mutex_held(&adaptive));
	pthread_mutex_lock(&adaptive);
	CHECK(sgxemu_mutex_held(&adaptive));
	SGXEMU_ASSERT_HELD(&adaptive);
	pthread_mutex_unlock(&adaptive);
	pthread_mutex_destroy(&adaptive);

	/* After fork() the child's thread has a new id: a mutex locked in the
	 * child is its own, one the parent held is not. */
	pthread_mutex_lock(&m);
	{
		pid_t pid = fork();
		int status;

		CHECK_GE(pid, 0);
		if (pid == 0) {
			pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER;

			pthread_mutex_lock(&c);
			_exit(sgxemu_mutex_held(&c) && !sgxemu_mutex_held(&m) ? 0 : 1);
		}
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	}
	pthread_mutex_unlock(&m);
}

