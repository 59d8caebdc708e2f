/*
 * json.c: the streaming JSON writer (json.h).  Output is indented two
 * spaces per level, one member per line, so it reads well and parses with
 * any JSON parser.
 */
#include "tools/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->empty[0] = true;
	j->object[0] = false;
}

static void json_indent(struct json *j)
{
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void json_put_string(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(f, "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
			} else if (*p >= 0x80) {
				/* Not valid UTF-8 necessarily (file names): escape
				 * each byte as its Latin-1 code point so the
				 * document stays valid. */
				fprintf(f, "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

/* Starts a value: separator, indentation and key as the level wants. */
static void json_value(struct json *j, const char *key)
{
	bool in_object = j->depth > 0 && j->object[j->depth];

	if (in_object != (key != NULL)) {
		fprintf(stderr, "json: %s key in %s\n", key ? "a" : "no",
			in_object ? "an object" : "an array");
		abort();
	}
	if (j->depth > 0) {
		if (!j->empty[j->depth])
			fputc(',', j->f);
		fputc('\n', j->f);
		json_indent(j);
	}
	j->empty[j->depth] = false;
	if (key) {
		json_put_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, bool object)
{
	json_value(j, key);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		fputs("json: nested too deep\n", stderr);
		abort();
	}
	fputc(object ? '{' : '[', j->f);
	j->depth++;
	j->empty[j->depth] = true;
	j->object[j->depth] = object;
}

static void json_close(struct json *j, bool object)
{
	if (j->depth == 0 || j->object[j->depth] != object) {
		fputs("json: unbalanced close\n", stderr);
		abort();
	}
	bool empty = j->empty[j->depth];

	j->depth--;
	if (!empty) {
		fputc('\n', j->f);
		json_indent(j);
	}
	fputc(object ? '}' : ']', j->f);
}

void json_begin_object(struct json *j, const char *key)
{
	json_open(j, key, true);
}

void json_end_object(struct json *j)
{
	json_close(j, true);
}

void json_begin_array(struct json *j, const char *key)
{
	json_open(j, key, false);
}

void json_end_array(struct json *j)
{
	json_close(j, false);
}

void json_string(struct json *j, const char *key, const char *val)
{
	json_value(j, key);
	if (val)
		json_put_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t val)
{
	json_value(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json_i64(struct json *j, const char *key, int64_t val)
{
	json_value(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void json_double(struct json *j, const char *key, double val)
{
	json_value(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.17g", val);
	else
		fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, bool val)
{
	json_value(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_value(j, key);
	fputs("null", j->f);
}

void json_hex(struct json *j, const char *key, const uint8_t *buf, size_t len)
{
	json_value(j, key);
	fputc('"', j->f);
	for (size_t i = 0; i < len; i++)
		fprintf(j->f, "%02x", buf[i]);
	fputc('"', j->f);
}

void json_hex_u64(struct json *j, const char *key, uint64_t val)
{
	json_value(j, key);
	fprintf(j->f, "\"0x%" PRIx64 "\"", val);
}

bool json_printed;

int json_finish(struct json *j)
{
	if (j->f == stdout)
		json_printed = true;
	fputc('\n', j->f);
	if (fflush(j->f) != 0 || ferror(j->f))
		return -EIO;
	return 0;
}
