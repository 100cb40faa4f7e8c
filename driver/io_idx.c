/*
** io_idx.c: IDX reader through zlib (gzread reads plain files as-is),
** hardened against truncated, corrupt and lying files.
*/
#include "io_idx.h"
#include "io_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_TYPE_U8 0x08
/* gzread takes an unsigned count and returns an int: read in slices. */
#define READ_SLICE ((size_t)1 << 30)

/* zlib's messages start with the path, which ours already name. */
static const char *zmsg(const char *msg, const char *path) {
    size_t n = strlen(path);
    if (msg && !strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2)) return msg + n + 2;
    return msg ? msg : "unknown zlib error";
}

/*
** Reads up to n bytes. Returns the count read (short only at the end of
** the data) or -1 when zlib reports an error, with its message in *msg.
*/
static long long read_some(gzFile gz, void *buf, size_t n, const char **msg) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < READ_SLICE ? n - got : READ_SLICE;
        int r = gzread(gz, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            *msg = gzerror(gz, &code);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    /* A stream cut short mid-member ends "cleanly" with Z_BUF_ERROR. */
    int code;
    const char *m = gzerror(gz, &code);
    if (code != Z_OK && code != Z_STREAM_END) { *msg = m; return -1; }
    return (long long)got;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads and checks the header; fills ndim, dims and count. */
static int read_header(gzFile gz, const char *path, IdxData *d,
                       char *err, size_t errlen) {
    unsigned char h[4 + 4 * IDX_MAX_NDIM];
    const char *msg = NULL;
    long long r = read_some(gz, h, 4, &msg);
    if (r < 0) return io_fail(err, errlen, path, "read failed: %s", zmsg(msg, path));
    if (r < 4) return io_fail(err, errlen, path, "truncated header (%lld bytes)", r);
    if (h[0] != 0 || h[1] != 0)
        return io_fail(err, errlen, path, "bad magic 0x%08x (not an IDX file)",
                       (unsigned)be32(h));
    if (h[2] != IDX_TYPE_U8)
        return io_fail(err, errlen, path,
                       "element type 0x%02x not supported (only unsigned byte 0x08)", h[2]);
    if (h[3] < 1 || h[3] > IDX_MAX_NDIM)
        return io_fail(err, errlen, path, "%d dimensions (expected 1..%d)",
                       h[3], IDX_MAX_NDIM);
    d->ndim = h[3];
    size_t need = 4 * (size_t)d->ndim;
    r = read_some(gz, h + 4, need, &msg);
    if (r < 0) return io_fail(err, errlen, path, "read failed: %s", zmsg(msg, path));
    if ((size_t)r < need) return io_fail(err, errlen, path, "truncated header");
    size_t count = 1;
    for (int i = 0; i < d->ndim; i++) {
        uint32_t v = be32(h + 4 + 4 * i);
        if (v > INT32_MAX || (v && count > IDX_MAX_BYTES / v))
            return io_fail(err, errlen, path,
                           "dimensions too large (dim %d = %lu; limit %zu bytes)",
                           i, (unsigned long)v, IDX_MAX_BYTES);
        d->dims[i] = (int)v;
        count *= v;
    }
    d->count = count;
    return 0;
}

/*
** Reads exactly d->count bytes, growing the buffer as data arrives so a
** header that lies about its size cannot force a huge allocation.
*/
static int read_payload(gzFile gz, const char *path, IdxData *d,
                        char *err, size_t errlen) {
    size_t cap = 0, got = 0;
    const char *msg = NULL;
    while (got < d->count) {
        if (got == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
            if (ncap > d->count) ncap = d->count;
            uint8_t *p = realloc(d->data, ncap);
            if (!p) return io_fail(err, errlen, path, "out of memory (%zu bytes)", ncap);
            d->data = p;
            cap = ncap;
        }
        long long r = read_some(gz, d->data + got, cap - got, &msg);
        if (r < 0) return io_fail(err, errlen, path, "read failed: %s", zmsg(msg, path));
        got += (size_t)r;
        if (got < cap) break;
    }
    if (got < d->count)
        return io_fail(err, errlen, path, "truncated data: header promises %zu bytes, "
                       "file has %zu", d->count, got);
    unsigned char extra;
    long long r = read_some(gz, &extra, 1, &msg);
    if (r < 0) return io_fail(err, errlen, path, "read failed: %s", zmsg(msg, path));
    if (r > 0) return io_fail(err, errlen, path, "trailing data after %zu bytes", d->count);
    return 0;
}

/* idx_load, with images of pixels values each (0: any) checked from the
** header, before the data is read. */
static int load_checked(const char *path, IdxData *out, long pixels, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int fd = io_open_regular(path, err, errlen);
    if (fd < 0) return -1;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return io_fail(err, errlen, path, "cannot open: out of memory");
    }
    gzbuffer(gz, 1 << 17);
    int rc = read_header(gz, path, out, err, errlen);
    if (rc == 0 && pixels > 0 && out->ndim == 3 && (long)out->dims[1] * out->dims[2] != pixels)
        rc = io_fail(err, errlen, path, "images are 1x%dx%d, the model takes %ld values each",
                     out->dims[1], out->dims[2], pixels);
    if (rc == 0) rc = read_payload(gz, path, out, err, errlen);
    gzclose(gz);
    if (rc != 0) idx_free(out);
    return rc;
}

int idx_load(const char *path, IdxData *out, char *err, size_t errlen) {
    return load_checked(path, out, 0, err, errlen);
}

void idx_free(IdxData *d) {
    free(d->data);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- dataset */

static int check_pair(const IdxData *im, const IdxData *lb, const char *ip,
                      const char *lp, int num_classes, char *err, size_t errlen) {
    if (im->ndim != 3)
        return io_fail(err, errlen, ip, "images must have 3 dimensions "
                       "[n, rows, cols], file has %d", im->ndim);
    if (lb->ndim != 1)
        return io_fail(err, errlen, lp, "labels must have 1 dimension [n], "
                       "file has %d", lb->ndim);
    if (im->dims[0] != lb->dims[0])
        return io_fail(err, errlen, lp, "%d labels for %d images in %s",
                       lb->dims[0], im->dims[0], ip);
    if (im->dims[0] == 0) return io_fail(err, errlen, ip, "no images");
    for (size_t i = 0; i < lb->count; i++)
        if (lb->data[i] >= num_classes)
            return io_fail(err, errlen, lp, "label %d at index %zu is not below "
                           "num_classes %d", lb->data[i], i, num_classes);
    return 0;
}

int idx_load_dataset(IdxDataset *out, const char *images_path,
                     const char *labels_path, int num_classes, long pixels,
                     float mean, float std, char *err, size_t errlen) {
    IdxData im, lb;
    memset(out, 0, sizeof *out);
    if (!(std > 0.0f))
        return io_fail(err, errlen, images_path, "std must be positive, got %g", std);
    if (num_classes < 1)
        return io_fail(err, errlen, labels_path, "num_classes must be positive");
    if (load_checked(images_path, &im, pixels, err, errlen)) return -1;
    if (idx_load(labels_path, &lb, err, errlen)) { idx_free(&im); return -1; }
    int rc = check_pair(&im, &lb, images_path, labels_path, num_classes, err, errlen);
    if (rc == 0) {
        out->x = malloc(im.count * sizeof *out->x);
        out->y = malloc(lb.count * sizeof *out->y);
        if (!out->x || !out->y) {
            rc = io_fail(err, errlen, images_path, "out of memory");
            idx_dataset_free(out);
        }
    }
    if (rc == 0) {
        out->n = im.dims[0]; out->c = 1; out->h = im.dims[1]; out->w = im.dims[2];
        out->num_classes = num_classes;
        float scale = 1.0f / (255.0f * std), shift = mean / std;
        for (size_t i = 0; i < im.count; i++) out->x[i] = im.data[i] * scale - shift;
        for (size_t i = 0; i < lb.count; i++) out->y[i] = lb.data[i];
    }
    idx_free(&im);
    idx_free(&lb);
    return rc;
}

void idx_dataset_free(IdxDataset *ds) {
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}
