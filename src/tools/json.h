/*
 * json.h: a small streaming JSON writer for the sgxemu command's --json
 * output.
 *
 * Values are written as they are given, so the output is one pass with no
 * tree in memory.  Every value inside an object takes a key; inside an
 * array (or at the top) the key is NULL.  Nesting is bounded by
 * JSON_MAX_DEPTH; misuse (a key in an array, too deep) is a programming
 * error and aborts.
 */
#ifndef SGXEMU_TOOLS_JSON_H
#define SGXEMU_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	/* Per level: no value written yet, and whether the level is an object. */
	bool empty[JSON_MAX_DEPTH];
	bool object[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *f);
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);

/* A string, escaped as RFC 8259 requires; NULL writes null. */
void json_string(struct json *j, const char *key, const char *val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_i64(struct json *j, const char *key, int64_t val);
/* A number; NaN and infinities, which JSON cannot hold, are written as null. */
void json_double(struct json *j, const char *key, double val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* Bytes as a string of lowercase hex digits, in memory order. */
void json_hex(struct json *j, const char *key, const uint8_t *buf, size_t len);
/* An integer as a "0x..." string (flag words, masks). */
void json_hex_u64(struct json *j, const char *key, uint64_t val);

/* Ends the document (after the top-level value) with a newline and flushes;
 * returns 0 or -EIO if the stream had an error. */
int json_finish(struct json *j);
/* Whether a document was finished on stdout (main's JSON errors). */
extern bool json_printed;

#endif /* SGXEMU_TOOLS_JSON_H */
