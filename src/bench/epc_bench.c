/*
 * epc_bench.c: the numbers behind `sgxemu bench epc`: alloc+free pairs on
 * the page cache, and the same work on a single free list under a single
 * mutex with a shared atomic free count (the kernel's design before
 * per-node lists, and what the page cache's fast path avoids).  Returns
 * numbers only; the command prints them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "sgxemu/epc.h"

#define BENCH_MAX_THREADS 64
#define BENCH_MAX_ITERATIONS 10000000000ULL
#define BENCH_WARMUP 10000

struct bench {
	pthread_mutex_t go_lock; /* guards ready, go, stop */
	pthread_cond_t go_cond;
	unsigned int ready;
	bool go, stop;
	uint64_t iterations;
	atomic_int errors;
	double end_ns[BENCH_MAX_THREADS];
	/* the page cache run */
	struct sgx_epc *epc;
	/* the baseline run */
	pthread_mutex_t lock; /* guards free_list */
	struct list_head free_list;
	atomic_long nr_free;
	void (*pair)(struct bench *b);
};

struct bench_thread {
	struct bench *b;
	unsigned int index;
};

struct baseline_page {
	void *addr;
	void *owner;
	struct list_head list;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void epc_pair(struct bench *b)
{
	struct sgx_epc_page *page;

	if (sgx_alloc_epc_page(b->epc, b, false, &page)) {
		atomic_fetch_add(&b->errors, 1);
		return;
	}
	sgx_free_epc_page(b->epc, page);
}

static void baseline_pair(struct bench *b)
{
	struct baseline_page *page = NULL;

	pthread_mutex_lock(&b->lock);
	if (!list_empty(&b->free_list)) {
		page = list_first_entry(&b->free_list, struct baseline_page, list);
		list_del(&page->list);
	}
	pthread_mutex_unlock(&b->lock);
	if (!page) {
		atomic_fetch_add(&b->errors, 1);
		return;
	}
	atomic_fetch_sub_explicit(&b->nr_free, 1, memory_order_relaxed);
	page->owner = b;

	pthread_mutex_lock(&b->lock);
	page->owner = NULL;
	list_add_tail(&page->list, &b->free_list);
	pthread_mutex_unlock(&b->lock);
	atomic_fetch_add_explicit(&b->nr_free, 1, memory_order_relaxed);
}

static void *bench_thread(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->b;
	bool stop;

	for (int i = 0; i < BENCH_WARMUP; i++)
		b->pair(b);
	pthread_mutex_lock(&b->go_lock);
	b->ready++;
	pthread_cond_broadcast(&b->go_cond);
	while (!b->go && !b->stop)
		pthread_cond_wait(&b->go_cond, &b->go_lock);
	stop = b->stop;
	pthread_mutex_unlock(&b->go_lock);
	if (stop)
		return NULL;
	for (uint64_t i = 0; i < b->iterations; i++)
		b->pair(b);
	b->end_ns[t->index] = now_ns();
	return NULL;
}

/* Runs b->pair in threads threads, from a common start to the last end. */
static int bench_run(struct bench *b, unsigned int threads, double *ns_per_pair)
{
	struct bench_thread args[BENCH_MAX_THREADS];
	pthread_t tids[BENCH_MAX_THREADS];
	unsigned int started;
	double t0, t1 = 0;
	int ret = 0;

	pthread_mutex_init(&b->go_lock, NULL);
	pthread_cond_init(&b->go_cond, NULL);
	for (started = 0; started < threads; started++) {
		args[started].b = b;
		args[started].index = started;
		ret = -pthread_create(&tids[started], NULL, bench_thread, &args[started]);
		if (ret)
			break;
	}
	pthread_mutex_lock(&b->go_lock);
	while (b->ready < started)
		pthread_cond_wait(&b->go_cond, &b->go_lock);
	if (ret)
		b->stop = true;
	else
		b->go = true;
	t0 = now_ns();
	pthread_cond_broadcast(&b->go_cond);
	pthread_mutex_unlock(&b->go_lock);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_cond_destroy(&b->go_cond);
	pthread_mutex_destroy(&b->go_lock);
	if (ret)
		return ret;
	if (atomic_load(&b->errors))
		return -EIO;
	for (unsigned int i = 0; i < threads; i++)
		if (b->end_ns[i] > t1)
			t1 = b->end_ns[i];
	*ns_per_pair = (t1 - t0) / ((double)threads * (double)b->iterations);
	return 0;
}

static int bench_args(struct sgx_cpu *cpu, unsigned int threads, uint64_t iterations,
		      double *ns_per_pair)
{
	if (!cpu || !ns_per_pair || threads < 1 || threads > BENCH_MAX_THREADS ||
	    iterations < 1 || iterations > BENCH_MAX_ITERATIONS)
		return -EINVAL;
	return 0;
}

int sgx_epc_bench_alloc(struct sgx_cpu *cpu, unsigned int threads, uint64_t iterations,
			double *ns_per_pair)
{
	struct bench b;
	int ret;

	ret = bench_args(cpu, threads, iterations, ns_per_pair);
	if (ret)
		return ret;
	memset(&b, 0, sizeof(b));
	ret = sgx_epc_create(cpu, NULL, &b.epc);
	if (ret)
		return ret;
	b.iterations = iterations;
	b.pair = epc_pair;
	atomic_init(&b.errors, 0);
	ret = bench_run(&b, threads, ns_per_pair);
	sgx_epc_destroy(b.epc);
	return ret;
}

int sgx_epc_bench_mutex_baseline(struct sgx_cpu *cpu, unsigned int threads,
				 uint64_t iterations, double *ns_per_pair)
{
	struct baseline_page *pages;
	uint64_t nr;
	struct bench b;
	int ret;

	ret = bench_args(cpu, threads, iterations, ns_per_pair);
	if (ret)
		return ret;
	nr = sgx_cpu_nr_frames(cpu);
	if (!nr)
		return -ENODEV;
	pages = calloc(nr, sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	memset(&b, 0, sizeof(b));
	pthread_mutex_init(&b.lock, NULL);
	list_init(&b.free_list);
	for (uint64_t i = 0; i < nr; i++) {
		pages[i].addr = sgx_cpu_frame_addr(cpu, i);
		list_add_tail(&pages[i].list, &b.free_list);
	}
	atomic_init(&b.nr_free, (long)nr);
	atomic_init(&b.errors, 0);
	b.iterations = iterations;
	b.pair = baseline_pair;
	ret = bench_run(&b, threads, ns_per_pair);
	pthread_mutex_destroy(&b.lock);
	free(pages);
	return ret;
}
