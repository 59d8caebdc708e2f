/*
 * help.c: a command's --help as a manual page, printed from its struct
 * tool_doc: the same option table its parser is made from, so that every
 * option it takes is described, and each default is printed from the
 * constant the command uses rather than from text that could drift.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tools/tools.h"

#define HELP_WIDTH 79
#define HELP_INDENT 7 /* sections' text, as man(1) sets it */
#define HELP_INDENT_OPT 14 /* an option's description */

/* Prints text from column indent, its words filled up to HELP_WIDTH;
 * paragraphs are separated by a blank line, and a line that starts with
 * a space is printed as it is (commands, tables).  col: the column the
 * line already printed reaches (a label before a hanging indent), or 0. */
static void fill_from(const char *text, int indent, int col)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len == 0) {
			/* A blank line: the paragraph ends. */
			if (col)
				fputc('\n', stdout);
			fputc('\n', stdout);
			col = 0;
		} else if (*p == ' ') {
			if (col)
				fputc('\n', stdout);
			printf("%*s%.*s\n", indent, "", (int)len, p);
			col = 0;
		} else {
			for (const char *w = p; w < p + len;) {
				size_t n = 0;

				while (w + n < p + len && w[n] != ' ')
					n++;
				if (col && col + 1 + (int)n > HELP_WIDTH) {
					fputc('\n', stdout);
					col = 0;
				}
				if (!col)
					col = printf("%*s%.*s", indent, "", (int)n, w);
				else
					col += printf(" %.*s", (int)n, w);
				w += n;
				while (w < p + len && *w == ' ')
					w++;
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	if (col)
		fputc('\n', stdout);
}

static void fill(const char *text, int indent)
{
	fill_from(text, indent, 0);
}

/* "LABEL   text..." with the text's lines under each other. */
static void hanging(const char *label, const char *text)
{
	int col = printf("%*s%s", HELP_INDENT, "", label);

	if (col >= HELP_INDENT_OPT) {
		fputc('\n', stdout);
		col = 0;
	} else {
		col += printf("%*s", HELP_INDENT_OPT - col - 1, "");
	}
	fill_from(text, HELP_INDENT_OPT, col);
}

/* A size as the largest binary unit that divides it: "1G", "512M". */
static void size_string(uint64_t v, char *out, size_t outlen)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(out, outlen, "%llu", (unsigned long long)v);
	else
		snprintf(out, outlen, "%llu%c", (unsigned long long)v, units[u]);
}

/* "Default: ..." of an option, or nothing for a flag without one. */
static void print_default(const struct tool_opt *o)
{
	char buf[512], num[32];

	switch (o->def_kind) {
	case TOOL_DEF_NONE:
		if (!o->def_text)
			return;
		snprintf(buf, sizeof(buf), "Default: none; %s", o->def_text);
		break;
	case TOOL_DEF_TEXT:
		snprintf(buf, sizeof(buf), "Default: %s", o->def_text);
		break;
	case TOOL_DEF_DEC:
	case TOOL_DEF_HEX:
	case TOOL_DEF_SIZE:
		if (o->def_kind == TOOL_DEF_DEC)
			snprintf(num, sizeof(num), "%llu", (unsigned long long)o->def);
		else if (o->def_kind == TOOL_DEF_HEX)
			snprintf(num, sizeof(num), "%#llx", (unsigned long long)o->def);
		else
			size_string(o->def, num, sizeof(num));
		snprintf(buf, sizeof(buf), "Default: %s%s%s", num, o->def_text ? " " : ".",
			 o->def_text ? o->def_text : "");
		break;
	}
	fill(buf, HELP_INDENT_OPT);
}

static void section(const char *title)
{
	printf("\n%s\n", title);
}

void tool_help(const struct tool_doc *d)
{
	const char *summary = d->summary ? d->summary : tool_command_summary(d->name);
	char buf[64], line[256];

	snprintf(line, sizeof(line), "sgxemu %s - %s", d->name, summary ? summary : "");
	fputs("NAME\n", stdout);
	fill(line, HELP_INDENT);

	section("SYNOPSIS");
	for (const char *p = d->synopsis; *p;) {
		size_t n = strcspn(p, "\n");

		printf("%*s%.*s\n", HELP_INDENT, "", (int)n, p);
		p += n + (p[n] == '\n');
	}

	section("DESCRIPTION");
	fill(d->description, HELP_INDENT);

	section("OPTIONS");
	fill("A flag is off unless given.  An option that takes a value may be given once "
	     "(unless said otherwise), as --name VALUE or --name=VALUE.  Numbers are "
	     "decimal, 0x hexadecimal or 0 octal.",
	     HELP_INDENT);
	for (const struct tool_opt *o = d->opts; o->name; o++) {
		if (o->short_name)
			snprintf(buf, sizeof(buf), "-%c, ", o->short_name);
		else
			buf[0] = '\0';
		printf("\n%*s%s--%s%s%s\n", HELP_INDENT, "", buf, o->name, o->arg ? " " : "",
		       o->arg ? o->arg : "");
		fill(o->doc, HELP_INDENT_OPT);
		print_default(o);
	}

	section("EXIT STATUS");
	hanging("0", d->exit_ok);
	if (d->exit_fail)
		hanging("1", d->exit_fail);
	hanging("2", "A usage error (an unknown, repeated or malformed option, a missing or "
	     "surplus argument), an input that cannot be read or is malformed, or an "
	     "output that cannot be written.  The message names the problem.");

	section("EXAMPLES");
	fill(d->examples, HELP_INDENT);
}
