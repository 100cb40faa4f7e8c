/*
** emit.c: indenting line writer and literal formatting. Lines longer
** than EMIT_WIDTH columns are wrapped here, so every generated line fits:
** code after a ", " or " = " or before a trailing comment (never inside a
** string literal or that comment), comments and preprocessor lines at a
** space (a directive's trailing comment stays whole). Continuation lines
** are indented one level more (three spaces under a comment's text); a
** preprocessor line continues with "\".
*/
#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EMIT_WIDTH = 99 };

static void indent(Emit *e, size_t spaces) {
    for (size_t i = 0; i < spaces; i++) str_add(&e->out, " ");
}

/* Where to end a piece of at most room characters of text, of kind '/'
** (comment), '#' (directive) or 'c' (code): just after the last allowed
** break inside room, else after the first one beyond; 0: no break at all. */
static size_t break_at(const char *text, size_t room, int kind) {
    size_t best = 0;
    int quoted = 0, commented = 0;   /* inside a string literal, a trailing comment */
    for (size_t i = 0; text[i]; i++) {
        size_t end;
        if (text[i] == '"' && (i == 0 || text[i - 1] != '\\')) quoted = !quoted;
        if (kind != '/' && !quoted && text[i] == '/' && text[i + 1] == '*') commented = 1;
        if (quoted || commented || text[i] != ' ' || i == 0) continue;
        if (kind == 'c' && text[i - 1] != ',' && text[i - 1] != '=' && text[i + 1] != '/')
            continue;
        end = i;   /* the piece ends before the space */
        if (end > room && best) break;
        best = end;
        if (end > room) break;
    }
    return best;
}

/* Writes one line (no newline in it), wrapped to EMIT_WIDTH. A comment
** continues three spaces under its text, a comment body ("** ") with "** ",
** anything else one indentation level deeper. */
static void put_one(Emit *e, const char *text) {
    size_t ind = 4 * (size_t)e->ind, room = EMIT_WIDTH > ind ? EMIT_WIDTH - ind : 1;
    int body = text[0] == '*' && text[1] == '*';
    int kind = (text[0] == '/' && text[1] == '*') || body ? '/' : text[0] == '#' ? '#' : 'c';
    const char *cont = body ? "** " : kind == '/' ? "   " : "    ";
    for (int first = 1;; first = 0) {
        size_t len = strlen(text), cut, avail = room;
        if (!first) avail = room > strlen(cont) ? room - strlen(cont) : 1;
        if (kind == '#') avail = avail > 2 ? avail - 2 : 1;   /* room for " \" */
        indent(e, ind);
        if (!first) str_add(&e->out, cont);
        if (len <= avail || !(cut = break_at(text, avail, kind))) {
            str_addf(&e->out, "%s\n", text);
            return;
        }
        len = cut;
        while (len > 0 && text[len - 1] == ' ') len--;   /* no trailing blanks */
        str_addf(&e->out, "%.*s%s\n", (int)len, text, kind == '#' ? " \\" : "");
        for (text += cut; *text == ' '; text++) continue;
    }
}

/* Writes text, each of its lines wrapped. */
static void put_line(Emit *e, const char *text) {
    for (const char *nl; (nl = strchr(text, '\n')); text = nl + 1) {
        char *one = xasprintf("%.*s", (int)(nl - text), text);
        put_one(e, one);
        free(one);
    }
    put_one(e, text);
}

/* Formats fmt, appends tail, and writes the result wrapped. */
static void put_format(Emit *e, const char *fmt, va_list ap, const char *tail) {
    Str s = {0};
    str_vaddf(&s, fmt, ap);
    str_add(&s, tail);
    put_line(e, s.buf);
    str_free(&s);
}

void emit_line(Emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    put_format(e, fmt, ap, "");
    va_end(ap);
}

void emit_blank(Emit *e) { str_add(&e->out, "\n"); }

void emit_open(Emit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    put_format(e, fmt, ap, " {");
    va_end(ap);
    e->ind++;
}

void emit_close(Emit *e, const char *tail) {
    e->ind--;
    indent(e, 4 * (size_t)e->ind);
    str_addf(&e->out, "}%s\n", tail ? tail : "");
}

const char *emit_comment_text(Str *out, const char *text) {
    char prev = 0;
    str_add(out, "");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char c = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
        if ((prev == '*' && c == '/') || (prev == '/' && c == '*') || (prev == '?' && c == '?'))
            str_add(out, " ");
        str_addf(out, "%c", c);
        prev = c;
    }
    return out->buf;
}

const char *emit_cstring(Str *out, const char *text) {
    str_add(out, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '?') str_addf(out, "%c", *p);
        else str_addf(out, "\\%03o", *p);
    }
    str_add(out, "\"");
    return out->buf;
}

/* The shortest %g form that reads back as the same float (9 digits always
** do): 0.1f rather than 0.100000001f. */
const char *emit_float(float v, char *buf, size_t cap) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, cap, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", cap - strlen(buf) - 1);
    strncat(buf, "f", cap - strlen(buf) - 1);
    return buf;
}
