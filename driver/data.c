/*
** data.c: dataset loading and checks, normalisation, shuffling and
** augmented batches.
*/
#include "data.h"
#include "drv_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* DIR/NAME.gz if it exists, else DIR/NAME (which idx_load then reports). */
static void find_file(char *buf, size_t len, const char *dir, const char *name) {
    struct stat st;
    snprintf(buf, len, "%s/%s.gz", dir, name);
    if (stat(buf, &st) == 0) return;
    snprintf(buf, len, "%s/%s", dir, name);
}

int data_load_split(IdxDataset *ds, const char *dir, const char *split,
                    long limit, const RtModel *m, char *err, size_t errlen) {
    long pixels = 1;   /* values per image the model takes: one channel of h x w */
    for (int i = m->in_ndim == 3 ? 1 : 0; i < m->in_ndim; i++) pixels *= m->in_shape[i];
    char ip[1024], lp[1024], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    find_file(ip, sizeof ip, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    find_file(lp, sizeof lp, dir, name);
    if (idx_load_dataset(ds, ip, lp, m->out_shape[0], pixels, 0.0f, 1.0f, err, errlen)) return -1;
    if (limit > 0 && limit < ds->n) ds->n = (int)limit;
    return 0;
}

int data_check_model(const RtModel *m, int c, int h, int w, const char *what,
                     char *err, size_t errlen) {
    if (m->loss_kind != RT_LOSS_CROSS_ENTROPY || m->out_ndim != 1)
        return drv_err(err, errlen, "%s: model %s is not a classifier "
                       "(needs labels per sample), cannot use labelled images",
                       what, m->name);
    const int *s = m->in_shape;
    if (m->in_ndim == 3 && s[0] == c && s[1] == h && s[2] == w) return 0;
    if (m->in_ndim == 1 && (long)s[0] == (long)c * h * w) return 0;
    if (m->in_ndim == 3)
        return drv_err(err, errlen, "%s: images are %dx%dx%d, model %s expects "
                       "%dx%dx%d", what, c, h, w, m->name, s[0], s[1], s[2]);
    return drv_err(err, errlen, "%s: images are %dx%dx%d (%ld values), model %s "
                   "expects %d", what, c, h, w, (long)c * h * w, m->name, s[0]);
}

void data_stats(const float *x, size_t len, float *mean, float *std) {
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < len; i++) s += x[i];
    double mu = len ? s / (double)len : 0.0;
    for (size_t i = 0; i < len; i++) ss += ((double)x[i] - mu) * ((double)x[i] - mu);
    double var = len ? ss / (double)len : 0.0;
    *mean = (float)mu;
    *std = var > 1e-12 ? (float)sqrt(var) : 1.0f;
}

void data_normalise(float *x, size_t len, float mean, float std) {
    for (size_t i = 0; i < len; i++) x[i] = (x[i] - mean) / std;
}

/* A uniform integer in [0, n), n > 0; the modulo bias is below 2^-32. */
static int below(RtRng *rng, int n) {
    return (int)(rt_rng_next(rng) % (uint64_t)n);
}

void data_shuffle(int *idx, int n, RtRng *rng) {
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = below(rng, i + 1), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/*
** One channel plane (h,w) of 'src' into 'dst', shifted by (dy,dx) and
** mirrored if flip: dst[y][x] = src[y+dy][x'+dx] with x' = flip ? w-1-x : x,
** and 'pad' where that falls outside the image.
*/
static void shift_plane(float *dst, const float *src, int h, int w, int dy,
                        int dx, int flip, float pad) {
    for (int y = 0; y < h; y++) {
        int sy = y + dy;
        for (int x = 0; x < w; x++) {
            int sx = (flip ? w - 1 - x : x) + dx;
            int in = sy >= 0 && sy < h && sx >= 0 && sx < w;
            dst[y * w + x] = in ? src[sy * w + sx] : pad;
        }
    }
}

void data_batch(float *x, int32_t *y, const IdxDataset *ds, const int *idx,
                int b, const DataAug *aug, RtRng *rng) {
    size_t plane = (size_t)ds->h * ds->w, sample = plane * ds->c;
    int on = aug && (aug->crop_pad > 0 || aug->flip);
    for (int i = 0; i < b; i++) {
        const float *src = ds->x + (size_t)idx[i] * sample;
        float *dst = x + (size_t)i * sample;
        y[i] = ds->y[idx[i]];
        if (!on) { memcpy(dst, src, sample * sizeof *dst); continue; }
        int span = 2 * aug->crop_pad + 1;
        int dy = below(rng, span) - aug->crop_pad, dx = below(rng, span) - aug->crop_pad;
        int flip = (int)(rt_rng_next(rng) >> 63);
        if (aug->crop_pad <= 0) dy = dx = 0;
        if (!aug->flip) flip = 0;
        for (int ch = 0; ch < ds->c; ch++)
            shift_plane(dst + ch * plane, src + ch * plane, ds->h, ds->w, dy, dx,
                        flip, aug->pad_value);
    }
}
