/*
 * debug.c: the failure path of SGXEMU_ASSERT and the lock-owner check of
 * SGXEMU_ASSERT_HELD (debug.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/debug.h"

void sgxemu_assert_failed(const char *cond, const char *file, unsigned int line, const char *func)
{
	fprintf(stderr, "%s:%u: %s: assertion '%s' failed\n", file, line, func, cond);
	fflush(stderr);
	abort();
}

#ifdef __GLIBC__
/* The calling thread's id, cached: gettid() is a system call.  fork()
 * gives the child's only thread a new id, so the cache is cleared there. */
static __thread pid_t cached_tid;

static void tid_forget(void)
{
	cached_tid = 0;
}

static void tid_atfork(void)
{
	pthread_atfork(NULL, NULL, tid_forget);
}

static pid_t current_tid(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (!cached_tid) {
		pthread_once(&once, tid_atfork);
		cached_tid = gettid();
	}
	return cached_tid;
}

bool sgxemu_mutex_held(const pthread_mutex_t *m)
{
	return m->__data.__owner == current_tid();
}
#else
bool sgxemu_mutex_held(const pthread_mutex_t *m)
{
	(void)m;
	return true;
}
#endif
