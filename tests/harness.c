/*
 * harness.c: runs each registered case in a child process with a time limit
 * and prints one line per case and a closing "N passed, N failed" line.
 */
#include "harness.h"

#include <signal.h>
#include <stdarg.h>
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

uint64_t harness_seed(uint64_t dflt)
{
	const char *s = getenv("HARNESS_SEED");

	return s ? strtoull(s, NULL, 0) : dflt;
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
	return false;
}

int main(int argc, char **argv)
{
	const char *t = getenv("HARNESS_TIMEOUT");
	unsigned int timeout = t ? (unsigned int)strtoul(t, NULL, 0) : 300;
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
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
