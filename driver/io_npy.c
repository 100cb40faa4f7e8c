/*
** io_npy.c: .npy reader/writer with a small strict parser for the
** header, which is a Python dict literal such as
**   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
*/
#include "io_npy.h"
#include "io_err.h"
#include "io_atomic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io_npy.c reads and writes little-endian data in place"
#endif

static const char MAGIC[6] = "\x93NUMPY";
#define ALIGN 64

/* {====================================================== header parser */

typedef struct {
    const char *p, *end;
    const char *why;        /* first parse error, static text */
} Parser;

/* What the header says; 'itemsize' and 'wide' come from descr. */
typedef struct {
    int have_descr, have_order, have_shape;
    char descr[8];
    int fortran;
    int ndim;
    int64_t shape[NPY_MAX_NDIM];
} Header;

static void skip_ws(Parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                               *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Consumes character c after optional blanks; returns 1 if it was there. */
static int accept(Parser *ps, char c) {
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) { ps->p++; return 1; }
    return 0;
}

static int expect(Parser *ps, char c, const char *why) {
    if (accept(ps, c)) return 0;
    if (!ps->why) ps->why = why;
    return -1;
}

/* A quoted Python string without escapes into buf (cap bytes). */
static int parse_str(Parser *ps, char *buf, size_t cap) {
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) {
        ps->why = "expected a quoted string";
        return -1;
    }
    char q = *ps->p++;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || n + 1 >= cap) {
            ps->why = "unexpected string in header";
            return -1;
        }
        buf[n++] = *ps->p++;
    }
    if (ps->p >= ps->end) { ps->why = "unterminated string"; return -1; }
    ps->p++;
    buf[n] = '\0';
    return 0;
}

/* A non-negative decimal integer that fits in int64. */
static int parse_int(Parser *ps, int64_t *v) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
        ps->why = "shape entries must be non-negative integers";
        return -1;
    }
    int64_t x = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        int dgt = *ps->p++ - '0';
        if (x > (INT64_MAX - dgt) / 10) { ps->why = "shape entry too large"; return -1; }
        x = x * 10 + dgt;
    }
    if (ps->p < ps->end && *ps->p == 'L') ps->p++;   /* Python 2 longs */
    *v = x;
    return 0;
}

/* A tuple of integers: "()", "(3,)", "(2, 3)" or "(2, 3,)". */
static int parse_shape(Parser *ps, Header *h) {
    if (expect(ps, '(', "shape must be a tuple")) return -1;
    h->ndim = 0;
    if (accept(ps, ')')) return 0;
    for (;;) {
        if (h->ndim == NPY_MAX_NDIM) { ps->why = "more than 8 dimensions"; return -1; }
        if (parse_int(ps, &h->shape[h->ndim++])) return -1;
        int comma = accept(ps, ',');
        if (accept(ps, ')')) {
            if (h->ndim == 1 && !comma) { ps->why = "bad shape tuple"; return -1; }
            return 0;
        }
        if (!comma) { ps->why = "bad shape tuple"; return -1; }
    }
}

static int parse_bool(Parser *ps, int *v) {
    skip_ws(ps);
    size_t left = (size_t)(ps->end - ps->p);
    if (left >= 4 && !memcmp(ps->p, "True", 4)) { ps->p += 4; *v = 1; return 0; }
    if (left >= 5 && !memcmp(ps->p, "False", 5)) { ps->p += 5; *v = 0; return 0; }
    ps->why = "fortran_order must be True or False";
    return -1;
}

static int parse_entry(Parser *ps, Header *h) {
    char key[32];
    if (parse_str(ps, key, sizeof key)) return -1;
    if (expect(ps, ':', "expected ':' after a key")) return -1;
    int *seen;
    int rc;
    if (!strcmp(key, "descr")) {
        seen = &h->have_descr;
        rc = parse_str(ps, h->descr, sizeof h->descr);
        if (rc) ps->why = "unsupported descr (expected '<f4', '<i4' or '<i8')";
    } else if (!strcmp(key, "fortran_order")) {
        seen = &h->have_order;
        rc = parse_bool(ps, &h->fortran);
    } else if (!strcmp(key, "shape")) {
        seen = &h->have_shape;
        rc = parse_shape(ps, h);
    } else {
        ps->why = "unknown key in header";
        return -1;
    }
    if (*seen) { ps->why = "duplicate key in header"; return -1; }
    *seen = 1;
    return rc;
}

/* Parses the whole dict; trailing blanks (the padding) are allowed. */
static int parse_header(Parser *ps, Header *h) {
    memset(h, 0, sizeof *h);
    if (expect(ps, '{', "header is not a dict")) return -1;
    while (!accept(ps, '}')) {
        if (parse_entry(ps, h)) return -1;
        if (!accept(ps, ',')) {
            if (expect(ps, '}', "expected ',' or '}'")) return -1;
            break;
        }
    }
    skip_ws(ps);
    if (ps->p != ps->end) { ps->why = "junk after the header dict"; return -1; }
    if (!h->have_descr || !h->have_order || !h->have_shape) {
        ps->why = "header lacks descr, fortran_order or shape";
        return -1;
    }
    return 0;
}

/* }====================================================== */

/* {====================================================== reading */

/* Reads the preamble; returns the header length or -1. */
static long read_preamble(FILE *f, const char *path, char *err, size_t errlen) {
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, MAGIC, 6))
        return io_fail(err, errlen, path, "bad magic (not an .npy file)");
    int major = pre[6], minor = pre[7];
    if (minor != 0 || major < 1 || major > 3)
        return io_fail(err, errlen, path, "unsupported format version %d.%d",
                       major, minor);
    if (major == 1) return (long)(pre[8] | pre[9] << 8);
    if (fread(pre + 10, 1, 2, f) != 2)
        return io_fail(err, errlen, path, "truncated header");
    uint32_t n = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 |
                 (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    if (n > NPY_MAX_HEADER)
        return io_fail(err, errlen, path, "header length %lu exceeds %zu bytes",
                       (unsigned long)n, NPY_MAX_HEADER);
    return (long)n;
}

/* Reads and parses the header of length hlen into h. */
static int read_header(FILE *f, const char *path, long hlen, long long fsize,
                       Header *h, char *err, size_t errlen) {
    long here = ftell(f);
    if (here < 0 || hlen > fsize - here)
        return io_fail(err, errlen, path, "truncated header (%ld bytes promised)", hlen);
    char *buf = malloc((size_t)hlen + 1);
    if (!buf) return io_fail(err, errlen, path, "out of memory");
    if (fread(buf, 1, (size_t)hlen, f) != (size_t)hlen) {
        free(buf);
        return io_fail(err, errlen, path, "truncated header (%ld bytes promised)", hlen);
    }
    Parser ps = {buf, buf + hlen, NULL};
    int rc = parse_header(&ps, h);
    if (rc) io_fail(err, errlen, path, "malformed header: %s at byte %ld",
                    ps.why, (long)(ps.p - buf));
    free(buf);
    return rc;
}

/* Decides the element size from descr; fills a->type. */
static int check_header(const Header *h, const char *path, NpyArray *a,
                        size_t *itemsize, char *err, size_t errlen) {
    if (!strcmp(h->descr, "<f4")) { a->type = NPY_F32; *itemsize = 4; }
    else if (!strcmp(h->descr, "<i4")) { a->type = NPY_I32; *itemsize = 4; }
    else if (!strcmp(h->descr, "<i8")) { a->type = NPY_I32; *itemsize = 8; }
    else return io_fail(err, errlen, path, "unsupported dtype '%s' (expected "
                        "'<f4', '<i4' or '<i8')", h->descr);
    if (h->fortran)
        return io_fail(err, errlen, path, "fortran_order True is not supported");
    a->ndim = h->ndim;
    a->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        a->shape[i] = h->shape[i];
        if (h->shape[i] && a->count > SIZE_MAX / 8 / (uint64_t)h->shape[i])
            return io_fail(err, errlen, path, "shape too large");
        a->count *= (size_t)h->shape[i];
    }
    return 0;
}

/* Narrows int64 values (read into the front of 'buf') to int32 in place. */
static int narrow_i64(NpyArray *a, const char *path, char *err, size_t errlen) {
    const int64_t *src = a->data;
    int32_t *dst = a->data;
    for (size_t i = 0; i < a->count; i++) {
        int64_t v = src[i];
        if (v < INT32_MIN || v > INT32_MAX)
            return io_fail(err, errlen, path, "int64 value %lld at index %zu does "
                           "not fit in int32", (long long)v, i);
        dst[i] = (int32_t)v;   /* i-th slot is behind the one just read */
    }
    return 0;
}

static int read_data(FILE *f, const char *path, long long left, size_t itemsize,
                     NpyArray *a, char *err, size_t errlen) {
    unsigned long long need = (unsigned long long)a->count * itemsize;
    if ((unsigned long long)left < need)
        return io_fail(err, errlen, path, "data truncated: header promises %llu "
                       "bytes, file has %lld", need, left);
    if ((unsigned long long)left > need)
        return io_fail(err, errlen, path, "%llu bytes of trailing data",
                       (unsigned long long)left - need);
    a->data = malloc(need ? need : 1);
    if (!a->data) return io_fail(err, errlen, path, "out of memory (%llu bytes)", need);
    if (fread(a->data, 1, need, f) != need)
        return io_fail(err, errlen, path, "read error: data truncated");
    if (itemsize == 8) return narrow_i64(a, path, err, errlen);
    return 0;
}

int npy_load(const char *path, NpyArray *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    FILE *f = io_fopen_regular(path, err, errlen);
    if (!f) return -1;
    struct stat st;
    Header h;
    size_t itemsize = 0;
    int rc = -1;
    long hlen;
    if (fstat(fileno(f), &st) != 0)
        io_fail(err, errlen, path, "cannot stat: %s", strerror(errno));
    else if ((hlen = read_preamble(f, path, err, errlen)) >= 0 &&
             !read_header(f, path, hlen, (long long)st.st_size, &h, err, errlen) &&
             !check_header(&h, path, out, &itemsize, err, errlen)) {
        long long left = (long long)st.st_size - (long long)ftell(f);
        rc = read_data(f, path, left, itemsize, out, err, errlen);
    }
    fclose(f);
    if (rc) npy_free(out);
    return rc;
}

void npy_free(NpyArray *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* }====================================================== */

/* {====================================================== writing */

/*
** Formats the padded header into buf; returns the full preamble+header
** length (a multiple of ALIGN) or 0 if it does not fit.
*/
static size_t format_header(char *buf, size_t cap, NpyType type, int ndim,
                            const int64_t *shape) {
    char dict[64 + NPY_MAX_NDIM * 24];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                     "'shape': (", type == NPY_F32 ? "<f4" : "<i4");
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }",
                  ndim == 1 ? "," : "");
    size_t pre = 10;   /* magic, version, u16 length */
    size_t total = (pre + (size_t)n + 1 + ALIGN - 1) / ALIGN * ALIGN;
    if (total - pre > 65535) return 0;   /* would need v2.0: cannot happen
                                            with at most 8 dimensions */
    if (total > cap) return 0;
    size_t hlen = total - pre;
    memcpy(buf, MAGIC, 6);
    buf[6] = 1; buf[7] = 0;
    buf[8] = (char)(hlen & 0xff); buf[9] = (char)(hlen >> 8);
    memcpy(buf + pre, dict, (size_t)n);
    memset(buf + pre + n, ' ', hlen - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

int npy_save(const char *path, const void *data, NpyType type, int ndim,
             const int64_t *shape, char *err, size_t errlen) {
    if (ndim < 0 || ndim > NPY_MAX_NDIM)
        return io_fail(err, errlen, path, "cannot save %d dimensions", ndim);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && count > SIZE_MAX / 4 / (uint64_t)shape[i]))
            return io_fail(err, errlen, path, "bad shape entry %lld", (long long)shape[i]);
        count *= (size_t)shape[i];
    }
    char head[512];
    size_t hn = format_header(head, sizeof head, type, ndim, shape);
    if (!hn) return io_fail(err, errlen, path, "header too long");
    AtomicFile af;
    if (atomic_open(&af, path, err, errlen)) return -1;
    atomic_write(&af, head, hn);
    atomic_write(&af, data, count * 4);
    return atomic_commit(&af);
}

/* }====================================================== */
