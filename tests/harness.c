/*
 * harness.c: runs each registered case in a child process with a time limit
 * and prints one line per case and a closing "N passed, N failed" line.
 */
#include "harness.h"

#include <errno.h>

#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_MAX 512

static struct {
	const char *name;
	harness_fn fn;
} cases[HARNESS_MAX];
static int nr_cases;

void harness_register(const char *name, harness_fn fn)
{
	if (nr_cases == HARNESS_MAX) {
		fprintf(stderr, "harness: more than %d cases\n", HARNESS_MAX);
		abort();
	}
	cases[nr_cases].name = name;
	cases[nr_cases].fn = fn;
	nr_cases++;
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

bool harness_sanitized(void)
{
#ifdef SGXEMU_SANITIZED
	return true;
#else
	return getenv("HARNESS_SMALL") != NULL;
#endif
}

/* The seed a case took, in memory its parent shares, so the runner can
 * print it however the case ended (a failed CHECK, a crash, a timeout). */
struct seed_note {
	bool taken;
	uint64_t seed;
};
static struct seed_note *seed_note;

/* splitmix64's finalizer: a nonzero answer for 0, so a state a xorshift
 * generator can leave. */
static uint64_t seed_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

uint64_t harness_seed_from(const char *s, uint64_t dflt)
{
	uint64_t seed = dflt;

	if (s) {
		unsigned long long v;
		char *end;

		errno = 0;
		v = strtoull(s, &end, 0);
		if (*s >= '0' && *s <= '9' && !*end && !errno) {
			seed = v;
		} else {
			/* Not a number: the string's FNV-1a hash, so every
			 * string is a seed and the same one repeats a run. */
			seed = 0xCBF29CE484222325ULL;
			for (const char *p = s; *p; p++)
				seed = (seed ^ (unsigned char)*p) * 0x100000001B3ULL;
		}
	}
	/* xorshift64* never leaves state 0 (it would return 0 for ever), so
	 * 0 stands for a fixed nonzero state. */
	return seed ? seed : seed_mix(0);
}

uint64_t harness_seed(uint64_t dflt)
{
	const char *s = getenv("HARNESS_SEED");
	uint64_t seed = harness_seed_from(s, dflt);

	if (s && seed != strtoull(s, NULL, 0))
		fprintf(stderr, "  harness: HARNESS_SEED='%s' taken as seed %#" PRIx64 "\n", s,
			seed);
	if (seed_note) {
		seed_note->taken = true;
		seed_note->seed = seed;
	}
	return seed;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return false;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one case in a child; returns true if it passed. */
static bool run_case(int i, unsigned int timeout)
{
	double t0 = now();
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if (seed_note)
		seed_note->taken = false;
	pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		return false;
	}
	if (pid == 0) {
		alarm(timeout);
		cases[i].fn();
		fflush(stdout);
		fflush(stderr);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("PASS %s (%.2fs)\n", cases[i].name, now() - t0);
		return true;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		printf("FAIL %s: timed out after %us\n", cases[i].name, timeout);
	else if (WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d (%s)\n", cases[i].name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		printf("FAIL %s: exit status %d\n", cases[i].name, WEXITSTATUS(status));
	if (seed_note && seed_note->taken)
		printf("     %s took seed %#" PRIx64 ": HARNESS_SEED=%#" PRIx64 " %s repeats it\n",
		       cases[i].name, seed_note->seed, seed_note->seed, cases[i].name);
	return false;
}

int main(int argc, char **argv)
{
	const char *t = getenv("HARNESS_TIMEOUT");
	unsigned int timeout = t ? (unsigned int)strtoul(t, NULL, 0) : 300;
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed_note = mmap(NULL, sizeof(*seed_note), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (seed_note == MAP_FAILED)
		seed_note = NULL;
	for (int i = 0; i < nr_cases; i++) {
		if (!selected(cases[i].name, argc, argv))
			continue;
		if (run_case(i, timeout))
			passed++;
		else
			failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed || passed == 0 ? 1 : 0;
}
