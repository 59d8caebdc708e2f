/*
 * workload.h: enclaves the `sgxemu stat` command and the demo drive
 * through the SGX core (epc/core.h, epc/encl.h), so that the reclaimer has
 * work: enclaves of known page contents written and read back through the
 * core, and the statistics printed in one shape.
 *
 * A data enclave holds RW REG pages whose bytes are a function of (tag,
 * page index, generation), so any page can be checked from a small record.
 */
#ifndef SGXEMU_TOOLS_WORKLOAD_H
#define SGXEMU_TOOLS_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sgxemu/core.h"
#include "sgxemu/encl.h"
#include "sgxemu/sign.h"
#include "tools/json.h"

struct wl_encl {
	struct sgx_encl *encl; /* NULL once released */
	uint64_t tag;
	uint64_t pages;
	uint64_t gen; /* generation the pages hold */
};

/* The bytes of page index of enclave tag at generation gen. */
void wl_pattern(void *page, uint64_t tag, uint64_t index, uint64_t gen);

/* Creates a data enclave of pages pages (generation 0) in core: ECREATE,
 * then EADD of every page (the core reclaims as it needs).  Not
 * initialized.  0 or the core's error (-ENOMEM when neither EPC nor
 * backing can be had; *at receives the page index it stopped at); nothing
 * is left built on error. */
int wl_encl_create(struct sgx_core *core, uint64_t tag, uint64_t pages, struct wl_encl *e,
		   uint64_t *at);

/* Writes generation gen to every page, in order.  0 or the core's error;
 * *at receives the page index it stopped at. */
int wl_encl_write(struct wl_encl *e, uint64_t gen, uint64_t *at);

/*
 * Reads every page in order and compares it with the generation the
 * enclave holds; with hot_every > 0, page 0 is read again after every
 * hot_every pages, so that it stays young and aging finds it so.  Returns
 * 0, -EBADMSG at the first page that differs, or the core's error; *at
 * receives that page's index.
 */
int wl_encl_verify(struct wl_encl *e, uint64_t hot_every, uint64_t *at);

void wl_encl_release(struct wl_encl *e);

/*
 * Builds and initializes a loaded image (a layout and its SIGSTRUCT)
 * through the core, as the driver's ioctls do: ECREATE with the SECS the
 * SIGSTRUCT asks for at the address build_base_for() gives, EADD and
 * EEXTEND of every page, EINIT.  Returns 0, the core's error, or -EPERM
 * when EINIT refuses (*einit_ret receives EINIT's own code).
 */
int wl_build_image(struct sgx_core *core, const struct sgx_layout *layout,
		   const struct sgx_sigstruct *sigstruct, struct sgx_encl **out, int *einit_ret);

/* Reads every page of an image built by wl_build_image() and compares it
 * with the layout's bytes.  0, -EBADMSG (*at: the page's index), or the
 * core's error. */
int wl_image_verify(struct sgx_encl *encl, const struct sgx_layout *layout, uint64_t *at);

/* The statistics as one JSON object under key, grouped as `sgxemu stat`
 * prints them. */
void wl_stats_json(struct json *j, const char *key, const struct sgx_core_stats *st);

/* The statistics for people, one group per line, each line indented by
 * indent. */
void wl_stats_print(FILE *f, const char *indent, const struct sgx_core_stats *st);

/* Every frame free (or quarantined or leaked), no charge, no VA page, no
 * enclave: the state after every enclave was released. */
bool wl_stats_empty(const struct sgx_core_stats *st);

#endif /* SGXEMU_TOOLS_WORKLOAD_H */
