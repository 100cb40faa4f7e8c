/*
** analysis.h: the measurements behind the gradflow and lesion commands,
** kept apart from their option parsing and printing so that tests can
** run them on a handful of images.
**
** gradflow: how large the gradient is at each weighted layer, by depth,
** in training mode. An identity path (residual add) should keep it from
** shrinking towards the input; a deep plain net without normalisation
** should not.
**
** lesion (Veit et al. 2016, "Residual Networks Behave Like Ensembles of
** Relatively Shallow Networks"): test accuracy in evaluation mode with
** some residual blocks cut down to their identity path.
*/
#ifndef SKIPC_ANALYSIS_H
#define SKIPC_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "io_idx.h"
#include "rt.h"
#include "rt_model.h"

/* {====================================================================
** Gradient flow
** ===================================================================== */

typedef struct {
    int tensor;                 /* index into RtModel.tensors */
    int layer, depth;           /* its layer and that layer's depth */
    double grad_norm;           /* L2 norm of d(loss)/d(weight), mean over batches */
    double weight_norm;         /* L2 norm of the weight */
    double input_grad_norm;     /* L2 norm of the gradient at the layer's input, mean */
} GfRow;

/* Buffers for one model at one batch size; owns all but params. */
typedef struct {
    const RtModel *m;
    float *params;              /* not owned; weights are only read, but each
                                ** training forward updates running statistics */
    float *grads, *arena, *dx;
    double *sumsq;              /* per layer, from backward */
    int batch;                  /* largest batch gf_add accepts */
    int batches;                /* added so far */
    int nrows;
    GfRow *rows;                /* sums while adding, means after gf_finish */
} GfProbe;

/*
** Prepares a probe for m with parameters 'params' and batches of up to
** 'batch' samples. Rows: every RT_PARAM_WEIGHT tensor (conv and linear
** weights) and, if with_bn, every batchnorm scale, sorted by depth, ties
** by layer order, then tensor order. Returns 0, or -1 with a message.
*/
int gf_open(GfProbe *p, const RtModel *m, float *params, int batch, int with_bn,
            char *err, size_t errlen);
void gf_close(GfProbe *p);

/* One batch (x normalised, y labels, 1 <= n <= batch) in training mode:
** forward, loss, backward; adds its norms to the rows. Returns the loss. */
float gf_add(GfProbe *p, const float *x, const int32_t *y, int n);

/* Turns the sums into means over the batches added. */
void gf_finish(GfProbe *p);

/* }==================================================================== */

/* {====================================================================
** Lesion
** ===================================================================== */

/*
** Accuracy in [0,1] over the first ds->n samples of ds, in evaluation
** mode, with residual add k passing only its identity input where
** drop[k] is 1 (drop may be NULL: the whole network). arena holds
** RT_INFER_ARENA_FLOATS(m, batch) floats.
*/
double les_accuracy(const RtModel *m, const float *params, float *arena, int batch,
                    const IdxDataset *ds, const unsigned char *drop);

/*
** Sets drop[0..nskips) to a uniformly random set of exactly k of the
** nskips blocks (0 <= k <= nskips), each at most once: a partial
** Fisher-Yates shuffle of 0..nskips-1 in scratch (nskips ints). The
** numbers drawn from r depend only on nskips and k.
*/
void les_draw(RtRng *r, int nskips, int k, int *scratch, unsigned char *drop);

/* }==================================================================== */

#endif
