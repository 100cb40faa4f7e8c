/*
** io_safetensors.c: safetensors save (atomic) and load (strict JSON
** header parser, full validation against the file size).
*/
#include "io_safetensors.h"
#include "io_err.h"
#include "io_atomic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io_safetensors.c reads and writes little-endian data in place"
#endif

#define META_KEY "__metadata__"

/* {====================================================== metadata */

void st_meta_init(StMeta *m) {
    memset(m, 0, sizeof *m);
}

const char *st_meta_get(const StMeta *m, const char *key) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].key, key)) return m->items[i].value;
    return NULL;
}

int st_meta_set(StMeta *m, const char *key, const char *value) {
    char *v = strdup(value);
    if (!v) return -1;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].key, key)) {
            free(m->items[i].value);
            m->items[i].value = v;
            return 0;
        }
    char *k = strdup(key);
    if (!k || (m->n == m->cap && m->cap > (1 << 24))) { free(k); free(v); return -1; }
    if (m->n == m->cap) {
        int ncap = m->cap ? 2 * m->cap : 8;
        StMetaEntry *p = realloc(m->items, (size_t)ncap * sizeof *p);
        if (!p) { free(k); free(v); return -1; }
        m->items = p;
        m->cap = ncap;
    }
    m->items[m->n].key = k;
    m->items[m->n].value = v;
    m->n++;
    return 0;
}

void st_meta_free(StMeta *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    free(m->items);
    st_meta_init(m);
}

/* }====================================================== */

/* {====================================================== text buffers */

/* A growable string; 'oom' makes later appends no-ops. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1) ncap *= 2;
        char *p = realloc(b->s, ncap);
        if (!p) { b->oom = 1; return; }
        b->s = p;
        b->cap = ncap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends s as a JSON string literal. */
static void buf_json_str(Buf *b, const char *s) {
    buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { buf_add(b, "\\", 1); buf_add(b, s, 1); }
        else if (c < 0x20) buf_printf(b, "\\u%04x", c);
        else buf_add(b, s, 1);
    }
    buf_add(b, "\"", 1);
}

/*
** Appends a name for an error message: at most 120 bytes, control
** characters as '?', so a hostile name cannot break the one-line rule.
*/
static void buf_name(Buf *b, const char *s) {
    size_t i = 0;
    for (; s[i] && i < 120; i++) {
        unsigned char c = (unsigned char)s[i];
        buf_add(b, c < 0x20 || c == 0x7f ? "?" : s + i, 1);
    }
    if (s[i]) buf_add(b, "...", 3);
}

static void buf_shape(Buf *b, int ndim, const int64_t *shape) {
    buf_add(b, "[", 1);
    for (int i = 0; i < ndim; i++)
        buf_printf(b, i ? ",%lld" : "%lld", (long long)shape[i]);
    buf_add(b, "]", 1);
}

/* }====================================================== */

/* {====================================================== header parser */

typedef struct {
    char *name;
    char dtype[16];             /* truncated copy, for messages */
    int have_dtype, have_shape, have_offsets;
    int ndim;
    int64_t shape[ST_MAX_NDIM];
    uint64_t begin, end;
    int used;
} Entry;

typedef struct {
    int n, cap;
    Entry *e;
    StMeta meta;
    int have_meta;
} Index;

typedef struct {
    const char *p, *start, *end;
    const char *why;            /* first error, static text */
    char detail[160];           /* optional name the error is about */
} Json;

static int jfail(Json *j, const char *why) {
    if (!j->why) j->why = why;
    return -1;
}

static void jws(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
                             *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jaccept(Json *j, char c) {
    jws(j);
    if (j->p < j->end && *j->p == c) { j->p++; return 1; }
    return 0;
}

static int jexpect(Json *j, char c, const char *why) {
    return jaccept(j, c) ? 0 : jfail(j, why);
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escape after a backslash at j->p into o; returns bytes. */
static int jescape(Json *j, char *o, size_t *n) {
    if (j->p >= j->end) return jfail(j, "unterminated string");
    char c = *j->p++;
    const char *simple = "\"\\/bfnrt", *value = "\"\\/\b\f\n\r\t";
    const char *s = strchr(simple, c);
    if (c && s) { *o = value[s - simple]; *n = 1; return 0; }
    if (c != 'u') return jfail(j, "bad escape in string");
    unsigned cp, lo;
    if (j->end - j->p < 4 || hex4(j->p, &cp)) return jfail(j, "bad \\u escape");
    j->p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff) return jfail(j, "lone surrogate in string");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
            hex4(j->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return jfail(j, "lone surrogate in string");
        j->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0) return jfail(j, "NUL character in string");
    *n = put_utf8(o, cp);
    return 0;
}

/*
** Parses a JSON string into a new NUL-terminated buffer. Decoding never
** lengthens the text, so the raw span bounds the allocation.
*/
/*
** Length of the UTF-8 sequence at s (before end), or 0 when it is not
** valid UTF-8: a stray continuation byte, a truncated sequence, an
** overlong form, a surrogate or a code point beyond U+10FFFF (RFC 3629).
*/
static size_t utf8_len(const unsigned char *s, const unsigned char *end) {
    unsigned cp;
    size_t n;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { n = 2; cp = s[0] & 0x1fu; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { n = 3; cp = s[0] & 0x0fu; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { n = 4; cp = s[0] & 0x07u; }
    else return 0;
    if ((size_t)(end - s) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static int jstring(Json *j, char **out) {
    *out = NULL;
    if (!jaccept(j, '"')) return jfail(j, "expected a string");
    const char *q = j->p;
    while (q < j->end && *q != '"') q += (*q == '\\') ? 2 : 1;
    if (q >= j->end) return jfail(j, "unterminated string");
    char *o = malloc((size_t)(q - j->p) + 1);
    if (!o) return jfail(j, "out of memory");
    size_t n = 0;
    while (*j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        size_t k = 1;
        if (c < 0x20) { free(o); return jfail(j, "control character in string"); }
        if (c == '\\') {
            if (jescape(j, o + n, &k)) { free(o); return -1; }
        } else if (c >= 0x80) {
            k = utf8_len((const unsigned char *)j->p - 1, (const unsigned char *)j->end);
            if (!k) { free(o); return jfail(j, "invalid UTF-8 in string"); }
            memcpy(o + n, j->p - 1, k);
            j->p += k - 1;
        } else o[n] = (char)c;
        n += k;
    }
    j->p++;
    o[n] = '\0';
    *out = o;
    return 0;
}

/* A non-negative JSON integer (no sign, fraction, exponent or leading 0). */
static int juint(Json *j, uint64_t *v) {
    jws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return jfail(j, "expected a non-negative integer");
    uint64_t x = 0;
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p++ - '0');
        if (x > (UINT64_MAX - d) / 10) return jfail(j, "integer too large");
        x = x * 10 + d;
    }
    if (j->p - s > 1 && *s == '0') return jfail(j, "leading zero in integer");
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return jfail(j, "expected an integer");
    *v = x;
    return 0;
}

/* An array of at most max integers, each <= limit. */
static int juints(Json *j, uint64_t *v, int max, int *n, uint64_t limit) {
    *n = 0;
    if (jexpect(j, '[', "expected '['")) return -1;
    if (jaccept(j, ']')) return 0;
    do {
        if (*n == max) return jfail(j, "too many entries in array");
        if (juint(j, &v[*n])) return -1;
        if (v[*n] > limit) return jfail(j, "integer too large");
        (*n)++;
    } while (jaccept(j, ','));
    return jexpect(j, ']', "expected ',' or ']'");
}

static int tensor_field(Json *j, Entry *e, const char *key) {
    uint64_t v[ST_MAX_NDIM];
    int n, *seen;
    if (!strcmp(key, "dtype")) {
        char *s;
        seen = &e->have_dtype;
        if (jstring(j, &s)) return -1;
        snprintf(e->dtype, sizeof e->dtype, "%s", s);
        if (strlen(s) >= sizeof e->dtype) strcpy(e->dtype + sizeof e->dtype - 4, "...");
        free(s);
    } else if (!strcmp(key, "shape")) {
        seen = &e->have_shape;
        if (juints(j, v, ST_MAX_NDIM, &n, (uint64_t)INT64_MAX)) return -1;
        e->ndim = n;
        for (int i = 0; i < n; i++) e->shape[i] = (int64_t)v[i];
    } else if (!strcmp(key, "data_offsets")) {
        seen = &e->have_offsets;
        if (juints(j, v, 2, &n, UINT64_MAX)) return -1;
        if (n != 2) return jfail(j, "data_offsets must have two entries");
        e->begin = v[0];
        e->end = v[1];
    } else return jfail(j, "unknown key in tensor entry");
    if (*seen) return jfail(j, "duplicate key in tensor entry");
    *seen = 1;
    return 0;
}

/* {"dtype": .., "shape": [..], "data_offsets": [b, e]} */
static int tensor_obj(Json *j, Entry *e) {
    if (jexpect(j, '{', "tensor entry must be an object")) return -1;
    if (!jaccept(j, '}')) {
        do {
            char *key;
            if (jstring(j, &key)) return -1;
            int rc = jexpect(j, ':', "expected ':'");
            if (!rc) rc = tensor_field(j, e, key);
            free(key);
            if (rc) return -1;
        } while (jaccept(j, ','));
        if (jexpect(j, '}', "expected ',' or '}'")) return -1;
    }
    if (!e->have_dtype || !e->have_shape || !e->have_offsets)
        return jfail(j, "tensor entry lacks dtype, shape or data_offsets");
    return 0;
}

/* {"key": "value", ...}; values must be strings. */
static int meta_obj(Json *j, StMeta *m) {
    if (jexpect(j, '{', "__metadata__ must be an object")) return -1;
    if (jaccept(j, '}')) return 0;
    do {
        char *k = NULL, *v = NULL;
        int rc = jstring(j, &k);
        if (!rc) rc = jexpect(j, ':', "expected ':'");
        if (!rc) rc = jstring(j, &v);
        if (!rc && st_meta_get(m, k)) rc = jfail(j, "duplicate metadata key");
        if (!rc && st_meta_set(m, k, v)) rc = jfail(j, "out of memory");
        free(k);
        free(v);
        if (rc) return -1;
    } while (jaccept(j, ','));
    return jexpect(j, '}', "expected ',' or '}'");
}

static Entry *index_push(Json *j, Index *ix) {
    if (ix->n == ix->cap) {
        int ncap = ix->cap ? 2 * ix->cap : 64;
        Entry *p = realloc(ix->e, (size_t)ncap * sizeof *p);
        if (!p) { jfail(j, "out of memory"); return NULL; }
        ix->e = p;
        ix->cap = ncap;
    }
    Entry *e = &ix->e[ix->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* One "key": value pair of the top-level object. */
static int top_entry(Json *j, Index *ix) {
    char *key;
    if (jstring(j, &key)) return -1;
    if (jexpect(j, ':', "expected ':'")) { free(key); return -1; }
    if (!strcmp(key, META_KEY)) {
        free(key);
        if (ix->have_meta) return jfail(j, "duplicate __metadata__");
        ix->have_meta = 1;
        return meta_obj(j, &ix->meta);
    }
    Entry *e = index_push(j, ix);
    if (!e) { free(key); return -1; }
    e->name = key;
    if (tensor_obj(j, e)) {
        snprintf(j->detail, sizeof j->detail, "%.120s", key);
        return -1;
    }
    return 0;
}

/* The whole header: one object, then only the space padding. */
static int parse_index(Json *j, Index *ix) {
    if (jexpect(j, '{', "header must be a JSON object")) return -1;
    if (!jaccept(j, '}')) {
        do {
            if (top_entry(j, ix)) return -1;
        } while (jaccept(j, ','));
        if (jexpect(j, '}', "expected ',' or '}'")) return -1;
    }
    jws(j);
    if (j->p != j->end) return jfail(j, "junk after the header object");
    return 0;
}

static void index_free(Index *ix) {
    for (int i = 0; i < ix->n; i++) free(ix->e[i].name);
    free(ix->e);
    st_meta_free(&ix->meta);
    memset(ix, 0, sizeof *ix);
}

/* }====================================================== */

/* {====================================================== validation */

static int by_name(const void *a, const void *b) {
    return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name);
}

static int by_offset(const void *a, const void *b) {
    const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/*
** PyTorch's batchnorm step counters, NAME.num_batches_tracked (I64), which
** every torchvision state_dict has: accepted in a file and skipped, as
** evaluation and skipc's training (a fixed momentum) never read them.
*/
static int is_bn_counter(const Entry *e) {
    static const char suffix[] = ".num_batches_tracked";
    size_t n = strlen(e->name), k = sizeof suffix - 1;
    return !strcmp(e->dtype, "I64") && n > k && !strcmp(e->name + n - k, suffix);
}

/* Byte size of a tensor of this shape with elements of elem bytes; 0 with
** *ok = 0 on overflow. */
static uint64_t tensor_bytes(int ndim, const int64_t *shape, uint64_t elem, int *ok) {
    uint64_t n = elem;
    *ok = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (shape[i] < 0 || (d && n > UINT64_MAX / d)) { *ok = 0; return 0; }
        n *= d;
    }
    return n;
}

/* Checks dtype, sizes and bounds of one entry; describes a problem in m. */
static int check_entry(const Entry *e, uint64_t data_size, Buf *m) {
    int ok, counter = is_bn_counter(e);
    uint64_t bytes = tensor_bytes(e->ndim, e->shape, counter ? 8 : 4, &ok);
    int dtype_ok = !strcmp(e->dtype, "F32") || counter;
    if (dtype_ok && e->begin <= e->end && e->end <= data_size && ok &&
        e->end - e->begin == bytes)
        return 0;
    buf_add(m, "tensor '", 8);
    buf_name(m, e->name);
    if (!dtype_ok)
        buf_printf(m, "' has dtype %s; only F32 is supported (and I64 for "
                   "num_batches_tracked)", e->dtype);
    else if (e->begin > e->end)
        buf_printf(m, "' has data_offsets [%llu,%llu] with begin > end",
                   (unsigned long long)e->begin, (unsigned long long)e->end);
    else if (e->end > data_size)
        buf_printf(m, "' ends at byte %llu, past the %llu data bytes in the "
                   "file (truncated?)", (unsigned long long)e->end,
                   (unsigned long long)data_size);
    else {
        buf_add(m, "' of shape ", 11);
        buf_shape(m, e->ndim, e->shape);
        if (ok) buf_printf(m, " needs %llu bytes", (unsigned long long)bytes);
        else buf_add(m, " is too large", 13);
        buf_printf(m, " but data_offsets span %llu",
                   (unsigned long long)(e->end - e->begin));
    }
    return -1;
}

static int check_entries(const Index *ix, uint64_t data_size, Buf *m) {
    for (int i = 0; i < ix->n; i++)
        if (check_entry(&ix->e[i], data_size, m)) return -1;
    return 0;
}

/* Sorted by offset, no range may start before an earlier one ends. */
static int check_overlap(const Entry **ord, int n, Buf *m) {
    uint64_t pos = 0;
    const Entry *last = NULL;
    for (int i = 0; i < n; i++) {
        const Entry *e = ord[i];
        if (last && e->begin < pos) {
            buf_add(m, "tensors '", 9); buf_name(m, last->name);
            buf_add(m, "' and '", 7); buf_name(m, e->name);
            buf_add(m, "' overlap", 9);
            return -1;
        }
        if (!last || e->end > pos) { pos = e->end; last = e; }
    }
    return 0;
}

/* Without overlaps, the ranges must also tile [0, data_size) exactly. */
static int check_gaps(const Entry **ord, int n, uint64_t data_size, Buf *m) {
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (ord[i]->begin > pos) {
            buf_add(m, "gap in the data before tensor '", 31);
            buf_name(m, ord[i]->name);
            buf_printf(m, "' (bytes %llu..%llu unused)", (unsigned long long)pos,
                       (unsigned long long)ord[i]->begin);
            return -1;
        }
        pos = ord[i]->end;
    }
    if (pos == data_size) return 0;
    buf_printf(m, "%llu trailing bytes after the last tensor",
               (unsigned long long)(data_size - pos));
    return -1;
}

static int check_layout(const Index *ix, uint64_t data_size, Buf *m) {
    const Entry **ord = malloc(((size_t)(unsigned)ix->n + 1) * sizeof *ord);
    if (!ord) { buf_add(m, "out of memory", 13); return -1; }
    for (int i = 0; i < ix->n; i++) ord[i] = &ix->e[i];
    qsort(ord, (size_t)ix->n, sizeof *ord, by_offset);
    int rc = check_overlap(ord, ix->n, m);
    if (!rc) rc = check_gaps(ord, ix->n, data_size, m);
    free(ord);
    return rc;
}

static int check_unique(Index *ix, Buf *m) {
    if (ix->n < 2) return 0;   /* and ix->e may be NULL: qsort must not see it */
    qsort(ix->e, (size_t)ix->n, sizeof *ix->e, by_name);
    for (int i = 1; i < ix->n; i++)
        if (!strcmp(ix->e[i - 1].name, ix->e[i].name)) {
            buf_add(m, "duplicate tensor name '", 23);
            buf_name(m, ix->e[i].name);
            buf_add(m, "'", 1);
            return -1;
        }
    return 0;
}

/* }====================================================== */

/* {====================================================== loading */

/* Reads the length prefix and header text; *hdr is malloc'ed. */
static int read_header(FILE *f, const char *path, uint64_t fsize, char **hdr,
                       uint64_t *hlen, char *err, size_t errlen) {
    unsigned char b[8];
    if (fsize < 8 || fread(b, 1, 8, f) != 8)
        return io_fail(err, errlen, path, "too short for a safetensors file "
                       "(%llu bytes)", (unsigned long long)fsize);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    if (n > ST_MAX_HEADER)
        return io_fail(err, errlen, path, "header length %llu exceeds the %llu "
                       "byte limit", (unsigned long long)n,
                       (unsigned long long)ST_MAX_HEADER);
    if (n > fsize - 8)
        return io_fail(err, errlen, path, "header length %llu but only %llu bytes "
                       "follow (truncated?)", (unsigned long long)n,
                       (unsigned long long)(fsize - 8));
    if (n < 2) return io_fail(err, errlen, path, "empty header");
    *hdr = malloc((size_t)n);
    if (!*hdr) return io_fail(err, errlen, path, "out of memory");
    if (fread(*hdr, 1, (size_t)n, f) != (size_t)n) {
        free(*hdr);
        *hdr = NULL;
        return io_fail(err, errlen, path, "read error in header");
    }
    *hlen = n;
    return 0;
}

/* Parses and validates the header; fills ix. */
static int load_index(FILE *f, const char *path, uint64_t fsize, Index *ix,
                      uint64_t *data_start, char *err, size_t errlen) {
    char *hdr = NULL;
    uint64_t hlen = 0;
    if (read_header(f, path, fsize, &hdr, &hlen, err, errlen)) return -1;
    Json j = {hdr, hdr, hdr + hlen, NULL, ""};
    int rc = parse_index(&j, ix);
    if (rc)
        io_fail(err, errlen, path, "bad header: %s at byte %ld%s%s%s", j.why,
                (long)(j.p - j.start), j.detail[0] ? " (tensor '" : "", j.detail,
                j.detail[0] ? "')" : "");
    free(hdr);
    if (rc) return -1;
    *data_start = 8 + hlen;
    Buf m = {0};
    uint64_t data_size = fsize - 8 - hlen;
    rc = check_entries(ix, data_size, &m);
    if (!rc) rc = check_unique(ix, &m);
    if (!rc) rc = check_layout(ix, data_size, &m);
    if (rc) io_fail(err, errlen, path, "%s", m.oom ? "out of memory" : m.s);
    free(m.s);
    return rc;
}

static int same_shape(const Entry *e, const StTensorSpec *w) {
    if (e->ndim != w->ndim) return 0;
    for (int i = 0; i < e->ndim; i++)
        if (e->shape[i] != w->shape[i]) return 0;
    return 1;
}

/* One list ("missing a, b") into the mismatch message. */
static void list_item(Buf *m, int *count, const char *what, const char *name) {
    buf_add(m, *count ? ", " : m->len ? "; " : "", *count ? 2 : m->len ? 2 : 0);
    if (!*count) buf_printf(m, "%s ", what);
    buf_name(m, name);
    (*count)++;
}

/*
** Matches the file's tensors against 'want'; marks matches as used and
** writes every mismatch into m. Returns 0 if all is well.
*/
static int match(Index *ix, const StTensorSpec *want, int nwant,
                 const char *extra_prefix, Entry **found, Buf *m) {
    int nmissing = 0, ntwice = 0, nshape = 0, nextra = 0;
    for (int i = 0; i < nwant; i++) {
        Entry key = {.name = (char *)want[i].name};
        found[i] = ix->n ? bsearch(&key, ix->e, (size_t)ix->n, sizeof key, by_name)
                         : NULL;
        if (!found[i]) list_item(m, &nmissing, "missing", want[i].name);
        else if (found[i]->used) list_item(m, &ntwice, "wanted twice:", want[i].name);
        else found[i]->used = 1;
    }
    for (int i = 0; i < nwant; i++) {
        if (!found[i] || same_shape(found[i], &want[i])) continue;
        list_item(m, &nshape, "wrong shape:", want[i].name);
        buf_add(m, " is ", 4);
        buf_shape(m, found[i]->ndim, found[i]->shape);
        buf_add(m, " in file, expected ", 19);
        buf_shape(m, want[i].ndim, want[i].shape);
    }
    size_t plen = extra_prefix ? strlen(extra_prefix) : 0;
    for (int i = 0; i < ix->n; i++) {
        const Entry *e = &ix->e[i];
        if (e->used || is_bn_counter(e) ||
            (extra_prefix && !strncmp(e->name, extra_prefix, plen)))
            continue;
        list_item(m, &nextra, "unexpected", e->name);
    }
    return nmissing || ntwice || nshape || nextra ? -1 : 0;
}

static int read_tensors(FILE *f, const char *path, uint64_t data_start,
                        Entry **found, int nwant, float *const *dst,
                        char *err, size_t errlen) {
    for (int i = 0; i < nwant; i++) {
        size_t bytes = (size_t)(found[i]->end - found[i]->begin);
        if (bytes == 0) continue;
        if (fseeko(f, (off_t)(data_start + found[i]->begin), SEEK_SET) != 0 ||
            fread(dst[i], 1, bytes, f) != bytes)
            return io_fail(err, errlen, path, "read error in tensor '%.120s' "
                           "(file changed or truncated?)", found[i]->name);
    }
    return 0;
}

int st_load(const char *path, const StTensorSpec *want, int nwant,
            float *const *dst, const char *extra_prefix, StMeta *meta,
            char *err, size_t errlen) {
    Index ix = {0};
    struct stat st;
    uint64_t data_start = 0;
    Entry **found = NULL;
    int rc = -1;
    FILE *f = io_fopen_regular(path, err, errlen);
    if (!f) return -1;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        io_fail(err, errlen, path, "not a regular file");
        goto out;
    }
    if (load_index(f, path, (uint64_t)st.st_size, &ix, &data_start, err, errlen))
        goto out;
    found = calloc(nwant > 0 ? (size_t)nwant : 1, sizeof *found);
    if (!found) { io_fail(err, errlen, path, "out of memory"); goto out; }
    Buf m = {0};
    int bad = match(&ix, want, nwant, extra_prefix, found, &m);
    if (bad) io_fail(err, errlen, path, "checkpoint does not match: %s",
                     m.oom ? "(out of memory)" : m.s);
    free(m.s);
    if (bad) goto out;
    rc = read_tensors(f, path, data_start, found, nwant, dst, err, errlen);
    if (!rc && meta) {
        st_meta_free(meta);
        *meta = ix.meta;
        st_meta_init(&ix.meta);
    }
out:
    free(found);
    index_free(&ix);
    fclose(f);
    return rc;
}

/* }====================================================== */

/* {====================================================== saving */

/* Rejects what the loader would refuse, before anything is written. */
static int check_specs(const char *path, const StTensorSpec *spec, int n,
                       uint64_t *total, char *err, size_t errlen) {
    *total = 0;
    for (int i = 0; i < n; i++) {
        const StTensorSpec *s = &spec[i];
        int ok = s->name && s->name[0] && strcmp(s->name, META_KEY) &&
                 s->ndim >= 0 && s->ndim <= ST_MAX_NDIM;
        uint64_t bytes = ok ? tensor_bytes(s->ndim, s->shape, 4, &ok) : 0;
        if (!ok || *total > UINT64_MAX - bytes)
            return io_fail(err, errlen, path, "cannot save tensor %d ('%.120s'): "
                           "bad name or shape", i, s->name ? s->name : "(null)");
        *total += bytes;
        for (int k = 0; k < i; k++)
            if (!strcmp(spec[k].name, s->name))
                return io_fail(err, errlen, path, "cannot save: duplicate tensor "
                               "name '%.120s'", s->name);
    }
    return 0;
}

/* The JSON header, space-padded to a multiple of 8 bytes. */
static void build_header(Buf *b, const StTensorSpec *spec, int n,
                         const StMeta *meta) {
    uint64_t off = 0;
    int ok;
    buf_add(b, "{", 1);
    if (meta && meta->n) {
        buf_add(b, "\"" META_KEY "\":{", sizeof META_KEY + 3);
        for (int i = 0; i < meta->n; i++) {
            if (i) buf_add(b, ",", 1);
            buf_json_str(b, meta->items[i].key);
            buf_add(b, ":", 1);
            buf_json_str(b, meta->items[i].value);
        }
        buf_add(b, "}", 1);
    }
    for (int i = 0; i < n; i++) {
        uint64_t bytes = tensor_bytes(spec[i].ndim, spec[i].shape, 4, &ok);
        if (i || (meta && meta->n)) buf_add(b, ",", 1);
        buf_json_str(b, spec[i].name);
        buf_add(b, ":{\"dtype\":\"F32\",\"shape\":", 24);
        buf_shape(b, spec[i].ndim, spec[i].shape);
        buf_printf(b, ",\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                   (unsigned long long)(off + bytes));
        off += bytes;
    }
    buf_add(b, "}", 1);
    while (b->len % 8) buf_add(b, " ", 1);
}

int st_save(const char *path, const StTensorSpec *spec, int n,
            const float *const *src, const StMeta *meta,
            char *err, size_t errlen) {
    uint64_t total;
    if (n < 0) return io_fail(err, errlen, path, "cannot save %d tensors", n);
    if (check_specs(path, spec, n, &total, err, errlen)) return -1;
    Buf b = {0};
    build_header(&b, spec, n, meta);
    if (b.oom || b.len > ST_MAX_HEADER) {
        free(b.s);
        return io_fail(err, errlen, path, "cannot build header (%s)",
                       b.oom ? "out of memory" : "too large");
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)b.len >> (8 * i));
    AtomicFile af;
    if (atomic_open(&af, path, err, errlen)) { free(b.s); return -1; }
    atomic_write(&af, len8, 8);
    atomic_write(&af, b.s, b.len);
    free(b.s);
    for (int i = 0; i < n; i++) {
        int ok;
        atomic_write(&af, src[i], (size_t)tensor_bytes(spec[i].ndim, spec[i].shape, 4, &ok));
    }
    return atomic_commit(&af);
}

/* }====================================================== */
