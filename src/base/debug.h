/*
 * debug.h: the project's one assertion header.
 *
 * SGXEMU_ASSERT(cond) checks an invariant in builds configured with
 * SGXEMU_DEBUG (cmake -DSGXEMU_DEBUG=ON) and costs nothing otherwise: cond
 * is not evaluated, only type-checked.  It is independent of NDEBUG, so a
 * RelWithDebInfo build (which sets NDEBUG) still checks when asked to.  A
 * failed check names the condition, file, line and function on stderr and
 * aborts, so a test harness sees a crash, not a wrong answer.
 *
 * SGXEMU_ASSERT_HELD(mutex) is the check behind a function's `Context:`
 * line: the calling thread holds the pthread mutex (sgxemu_mutex_held()).
 *
 * SGXEMU_DEBUG_CHECKS is 1 or 0, for code that runs a whole expensive
 * check (an invariant over a structure) only in debug builds.
 *
 * This header is the base of every layer and includes nothing of ours.
 */
#ifndef SGXEMU_BASE_DEBUG_H
#define SGXEMU_BASE_DEBUG_H

#include <pthread.h>
#include <stdbool.h>

#ifdef SGXEMU_DEBUG
#define SGXEMU_DEBUG_CHECKS 1
#else
#define SGXEMU_DEBUG_CHECKS 0
#endif

/* Reports a failed SGXEMU_ASSERT and aborts. */
void sgxemu_assert_failed(const char *cond, const char *file, unsigned int line,
			  const char *func) __attribute__((noreturn, cold));

/*
 * Whether the calling thread holds mutex m.  POSIX has no such query, and
 * the alternatives change what is checked: an error-checking mutex type
 * would make every lock slower and cannot be used with the adaptive mutexes
 * the core's hot locks are; a trylock tells only that someone holds it.
 * glibc keeps the owner's kernel thread id in the mutex
 * (m->__data.__owner) for the normal and adaptive kinds, also while a
 * pthread_cond_wait() has it released and re-taken, so the check reads
 * that.  It is glibc's private field: this function is the one place that
 * knows it, and it answers true (no check) on any other C library.
 */
bool sgxemu_mutex_held(const pthread_mutex_t *m);

#if SGXEMU_DEBUG_CHECKS
#define SGXEMU_ASSERT(cond)                                                    \
	(__builtin_expect(!!(cond), 1) ? (void)0                               \
				       : sgxemu_assert_failed(#cond, __FILE__, \
							      __LINE__, __func__))
#define SGXEMU_ASSERT_HELD(m) SGXEMU_ASSERT(sgxemu_mutex_held(m))
#else
#define SGXEMU_ASSERT(cond) ((void)sizeof(cond))
#define SGXEMU_ASSERT_HELD(m) ((void)(m))
#endif

#endif /* SGXEMU_BASE_DEBUG_H */
