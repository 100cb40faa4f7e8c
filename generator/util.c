/*
** util.c: memory, growable strings, diagnostics and checked arithmetic.
** Allocation failure is fatal: the generator is a batch tool and has no
** sensible way to continue without memory.
*/
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void *check_alloc(void *p) {
    if (!p) {
        fprintf(stderr, "skipc: out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

void *xmalloc(size_t n) { return check_alloc(malloc(n ? n : 1)); }
void *xcalloc(size_t n, size_t size) { return check_alloc(calloc(n ? n : 1, size ? size : 1)); }
void *xrealloc(void *p, size_t n) { return check_alloc(realloc(p, n ? n : 1)); }

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...) {
    Str s = {0};
    va_list ap;
    va_start(ap, fmt);
    str_vaddf(&s, fmt, ap);
    va_end(ap);
    return s.buf;
}

void str_vaddf(Str *s, const char *fmt, va_list ap) {
    va_list aq;
    int n;
    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) return;
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->buf = xrealloc(s->buf, s->cap);
    }
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    s->len += (size_t)n;
}

void str_addf(Str *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    str_vaddf(s, fmt, ap);
    va_end(ap);
}

void str_add(Str *s, const char *text) { str_addf(s, "%s", text); }

void str_free(Str *s) {
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}

static void vdiag(Loc loc, const char *kind, const char *fmt, va_list ap) {
    if (loc.file && loc.line > 0) fprintf(stderr, "%s:%d: %s: ", loc.file, loc.line, kind);
    else if (loc.file) fprintf(stderr, "%s: %s: ", loc.file, kind);
    else fprintf(stderr, "skipc: %s: ", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void diag_error(Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(loc, "error", fmt, ap);
    va_end(ap);
}

void diag_warning(Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(loc, "warning", fmt, ap);
    va_end(ap);
}

void diag_note(Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(loc, "note", fmt, ap);
    va_end(ap);
}

int mul_checked(int64_t a, int64_t b, int64_t limit, int64_t *out) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > limit / a) return -1;
    *out = a * b;
    return *out <= limit ? 0 : -1;
}

uint64_t hash_name(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* {====================================================================
** StrMap
** ===================================================================== */

static char strmap_gone_mark;
#define STRMAP_GONE (&strmap_gone_mark)

/* The slot holding key, or the slot where it would go (-1 when full). */
static long strmap_slot(const StrMap *m, const char *key) {
    long free_slot = -1;
    if (m->cap == 0) return -1;
    for (size_t i = hash_name(key) & (m->cap - 1), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
        if (!m->keys[i]) return free_slot >= 0 ? free_slot : (long)i;
        if (m->keys[i] == STRMAP_GONE) {
            if (free_slot < 0) free_slot = (long)i;
        } else if (strcmp(m->keys[i], key) == 0) {
            return (long)i;
        }
    }
    return free_slot;
}

int *strmap_get(const StrMap *m, const char *key) {
    long i = strmap_slot(m, key);
    if (i < 0 || !m->keys[i] || m->keys[i] == STRMAP_GONE) return NULL;
    return &m->vals[i];
}

static void strmap_grow(StrMap *m) {
    StrMap bigger = {NULL, NULL, m->cap ? 2 * m->cap : 64, 0};
    bigger.keys = xcalloc(bigger.cap, sizeof *bigger.keys);
    bigger.vals = xcalloc(bigger.cap, sizeof *bigger.vals);
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != STRMAP_GONE) {
            long j = strmap_slot(&bigger, m->keys[i]);
            bigger.keys[j] = m->keys[i];
            bigger.vals[j] = m->vals[i];
            bigger.used++;
        }
    free(m->keys);
    free(m->vals);
    *m = bigger;
}

void strmap_put(StrMap *m, const char *key, int val) {
    long i;
    int *v = strmap_get(m, key);
    if (v) {
        *v = val;
        return;
    }
    if (2 * (m->used + 1) > m->cap) strmap_grow(m);
    i = strmap_slot(m, key);
    if (!m->keys[i]) m->used++;   /* a deleted slot was counted already */
    m->keys[i] = xstrdup(key);
    m->vals[i] = val;
}

void strmap_del(StrMap *m, const char *key) {
    long i = strmap_slot(m, key);
    if (i < 0 || !m->keys[i] || m->keys[i] == STRMAP_GONE) return;
    free(m->keys[i]);
    m->keys[i] = STRMAP_GONE;
}

void strmap_free(StrMap *m) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != STRMAP_GONE) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* }==================================================================== */
