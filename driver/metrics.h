/*
** metrics.h: loss and accuracy of a classifier over a labelled set, in
** evaluation mode (running batchnorm statistics), per class as well.
*/
#ifndef SKIPC_METRICS_H
#define SKIPC_METRICS_H

#include <stdint.h>

#include "io_idx.h"
#include "rt_model.h"

typedef struct {
    int num_classes;
    double loss_sum;            /* sum over samples of the per-sample loss */
    long correct, count;
    long *class_correct, *class_count;   /* num_classes each */
} MetCounts;

/* Allocates the per-class arrays, zeroed. 0 or -1 (out of memory). */
int met_init(MetCounts *c, int num_classes);
void met_free(MetCounts *c);
void met_reset(MetCounts *c);

/* Index of the largest of k scores (the first one on ties). */
int met_argmax(const float *v, int k);

/* Adds a batch: out is (n, k) scores, y the labels, loss the batch mean. */
void met_add(MetCounts *c, const float *out, const int32_t *y, int n, float loss);

/*
** Runs the model in evaluation mode over the first ds->n samples of ds in
** chunks of at most 'batch' (the last one may be smaller) and adds each
** chunk to c (infer). arena holds RT_INFER_ARENA_FLOATS(m, batch) floats.
*/
void met_evaluate(MetCounts *c, const RtModel *m, const float *params, float *arena,
                  int batch, const IdxDataset *ds);

#endif
