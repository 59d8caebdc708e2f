/*
 * bench.h: what the `sgxemu bench` subcommands share: the clock, and the
 * entry point and help of `bench epc` (bench_epc.c), which cmd_bench.c
 * dispatches to.
 */
#ifndef SGXEMU_TOOLS_BENCH_H
#define SGXEMU_TOOLS_BENCH_H

#include <time.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `sgxemu bench epc ...`: argv starts at "epc". */
int bench_epc(int argc, char **argv);

/* Its manual page, also part of `sgxemu bench --help`. */
struct tool_doc;
extern const struct tool_doc bench_epc_doc;

#endif /* SGXEMU_TOOLS_BENCH_H */
