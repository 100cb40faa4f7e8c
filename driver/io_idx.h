/*
** io_idx.h: IDX files (the MNIST / Fashion-MNIST format), plain or
** gzip-compressed, and image/label dataset pairs built from them.
**
** An IDX file is a big-endian header {0, 0, type, ndim, dims[ndim] (u32)}
** followed by prod(dims) elements. Only type 0x08 (unsigned byte) is
** read: images are 0x00000803 [n, rows, cols], labels 0x00000801 [n].
*/
#ifndef SKIPC_IO_IDX_H
#define SKIPC_IO_IDX_H

#include <stddef.h>
#include <stdint.h>

#define IDX_MAX_NDIM 4
/* Sanity limit on one file's payload; real datasets are far smaller. */
#define IDX_MAX_BYTES ((size_t)1 << 32)

typedef struct {
    int ndim;                   /* 1..IDX_MAX_NDIM */
    int dims[IDX_MAX_NDIM];
    size_t count;               /* prod(dims) */
    uint8_t *data;              /* count bytes, row-major */
} IdxData;

/* A labelled image set: x is (n, c, h, w) float32, y is (n) int32. */
typedef struct {
    int n, c, h, w;
    int num_classes;
    float *x;
    int32_t *y;
} IdxDataset;

/*
** Reads an unsigned-byte IDX file (gzip or plain). Returns 0, or -1 with
** a one-line message naming the file in err; 'out' is then empty.
** Header sizes are never trusted: the total is capped at IDX_MAX_BYTES
** and memory grows only as data actually arrives.
*/
int idx_load(const char *path, IdxData *out, char *err, size_t errlen);
void idx_free(IdxData *d);

/*
** Loads images [n, rows, cols] and labels [n], checks that the counts
** match and every label is < num_classes, and converts the images to
** NCHW float32 (c = 1): x = (pixel / 255 - mean) / std. pixels > 0: the
** images must have rows * cols == pixels, checked from the header before
** any data is read (a small file must not make a huge image appear).
** Returns 0, or -1 with a one-line message in err.
*/
int idx_load_dataset(IdxDataset *out, const char *images_path,
                     const char *labels_path, int num_classes, long pixels,
                     float mean, float std, char *err, size_t errlen);
void idx_dataset_free(IdxDataset *ds);

#endif
