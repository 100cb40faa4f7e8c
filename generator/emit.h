/*
** emit.h: the line writer under the renderer (render.c, emit_model.c):
** indentation, lines wrapped to 99 columns, float literals.
*/
#ifndef SKIPC_EMIT_H
#define SKIPC_EMIT_H

#include "util.h"

typedef struct Emit {
    Str out;
    int ind;     /* indentation depth, 4 spaces each */
} Emit;

void emit_line(Emit *e, const char *fmt, ...);   /* indented, newline added */
void emit_blank(Emit *e);
void emit_open(Emit *e, const char *fmt, ...);   /* "text {" then indent */
void emit_close(Emit *e, const char *tail);      /* dedent, "}" + tail */

/*
** Text from outside (names from specs, file paths, -D values) made safe
** for the C it lands in, so nothing in it can end a comment or a string:
** comment_text keeps printable ASCII (other bytes become '?') and breaks
** "*" "/", "/" "*" and "??" apart with a space; cstring writes a quoted
** literal, escaping '"', '\', '?' and every byte outside printable ASCII
** as octal, so the literal holds exactly the original bytes.
*/
const char *emit_comment_text(Str *out, const char *text);
const char *emit_cstring(Str *out, const char *text);

/* A float literal that round-trips float32: 2 -> "2.0f", 0.1 -> "0.100000001f". */
const char *emit_float(float v, char *buf, size_t cap);

#endif
