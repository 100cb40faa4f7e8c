/*
** emit.c: indenting line writer and literal formatting.
*/
#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void indent(Emit *e) {
    for (int i = 0; i < e->ind; i++) str_add(&e->out, "    ");
}

void emit_line(Emit *e, const char *fmt, ...) {
    va_list ap;
    indent(e);
    va_start(ap, fmt);
    str_vaddf(&e->out, fmt, ap);
    va_end(ap);
    str_add(&e->out, "\n");
}

void emit_blank(Emit *e) { str_add(&e->out, "\n"); }

void emit_open(Emit *e, const char *fmt, ...) {
    va_list ap;
    indent(e);
    va_start(ap, fmt);
    str_vaddf(&e->out, fmt, ap);
    va_end(ap);
    str_add(&e->out, " {\n");
    e->ind++;
}

void emit_close(Emit *e, const char *tail) {
    e->ind--;
    indent(e);
    str_addf(&e->out, "}%s\n", tail ? tail : "");
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
