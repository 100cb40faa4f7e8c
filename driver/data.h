/*
** data.h: the training data path: IDX image sets checked against a
** model's input, normalisation, seeded shuffling, and batch assembly
** with augmentation (random crop with zero padding, horizontal flip).
*/
#ifndef SKIPC_DATA_H
#define SKIPC_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "io_idx.h"
#include "rt.h"
#include "rt_model.h"

/* Augmentation of training batches; all zero disables it. */
typedef struct {
    int crop_pad;       /* random crop of the original size from the image
                        ** padded by this many pixels of black (0) */
    int flip;           /* horizontal flip with probability 1/2 */
    float pad_value;    /* black after normalisation: -mean/std */
} DataAug;

/*
** Loads DIR/<split>-images-idx3-ubyte[.gz] and DIR/<split>-labels-idx1-
** ubyte[.gz] (split is "train" or "t10k"), keeps the first 'limit'
** samples (all if limit <= 0) and scales pixels to [0,1]. Labels must be
** below m's class count, and images as large as m's input (checked from
** the header, before reading the data). Returns 0, or -1 with a one-line
** message naming the file in err.
*/
int data_load_split(IdxDataset *ds, const char *dir, const char *split,
                    long limit, const RtModel *m, char *err, size_t errlen);

/*
** Checks that images of c x h x w fit the model's input ({C,H,W}, or {N}
** with N = c*h*w) and that the model is a classifier. 'what' names the
** data in the message. Returns 0, or -1 with a message in err.
*/
int data_check_model(const RtModel *m, int c, int h, int w, const char *what,
                     char *err, size_t errlen);

/* Mean and (population) standard deviation of len values, in double. */
void data_stats(const float *x, size_t len, float *mean, float *std);

/* x = (x - mean) / std, in place. */
void data_normalise(float *x, size_t len, float mean, float std);

/* Fills idx with a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void data_shuffle(int *idx, int n, RtRng *rng);

/*
** Copies samples idx[0..b) of ds into x (b,c,h,w) and y (b), augmenting
** each with 'aug' (may be NULL). With augmentation every sample draws
** exactly three numbers from rng (dx, dy, flip), so the stream does not
** depend on the data.
*/
void data_batch(float *x, int32_t *y, const IdxDataset *ds, const int *idx,
                int b, const DataAug *aug, RtRng *rng);

#endif
