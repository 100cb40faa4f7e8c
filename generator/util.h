/*
** util.h: memory, growable strings, diagnostics and checked arithmetic
** shared by every phase of the generator.
*/
#ifndef SKIPC_UTIL_H
#define SKIPC_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Where a node came from in the spec; file is owned by the graph. */
typedef struct {
    const char *file;
    int line;
} Loc;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...);

/* Growable string; always NUL-terminated. */
typedef struct {
    char *buf;
    size_t len, cap;
} Str;

void str_add(Str *s, const char *text);
void str_addf(Str *s, const char *fmt, ...);
void str_vaddf(Str *s, const char *fmt, va_list ap);
void str_free(Str *s);

/* Diagnostics in GNU format on stderr: "file:line: error: msg" (and
** warning:, note:); "file: error: msg" without a line. The caller decides
** what an error means: nothing here keeps state. */
void diag_error(Loc loc, const char *fmt, ...);
void diag_warning(Loc loc, const char *fmt, ...);
void diag_note(Loc loc, const char *fmt, ...);

/* Multiplication that reports overflow past limit instead of wrapping. */
int mul_checked(int64_t a, int64_t b, int64_t limit, int64_t *out);

/* 64-bit FNV-1a: stable per-name constants (RNG streams). */
uint64_t hash_name(const char *s);

/* Strings mapped to ints, found in constant time (open addressing with
** linear probing; deleted keys leave a mark): the names a spec has taken,
** so naming stays linear in the number of layers. */
typedef struct {
    char **keys;     /* NULL: empty slot; STRMAP_GONE: deleted */
    int *vals;
    size_t cap, used;
} StrMap;

/* The value of key, or NULL. */
int *strmap_get(const StrMap *m, const char *key);
/* Sets key to val (a copy of key is kept). */
void strmap_put(StrMap *m, const char *key, int val);
void strmap_del(StrMap *m, const char *key);
void strmap_free(StrMap *m);

#endif
