/*
** weights.h: a checkpoint's weights as a deployment build embeds them:
** read (safetensors), folded as the build's parameter table says
** (rt_fold_batchnorm, the runtime's own), and hashed (SHA-256).
*/
#ifndef SKIPC_WEIGHTS_H
#define SKIPC_WEIGHTS_H

#include "kir.h"

typedef struct {
    char file_sha[65];       /* of the checkpoint file, hex */
    float *values;           /* p->num_dparams floats, in the build's layout */
    char (*sha)[65];         /* per DParam: of its floats' little-endian bytes */
    float mean, std;         /* input normalisation (0 and 1 when the file has none) */
    int has_norm;
} Weights;

/* Loads checkpoint path for deployment program p. Every training
** parameter p reads must be in it with its shape (other tensors are
** ignored). Returns 0, or -1 after a one-line "path: error: ..." message. */
int weights_load(Weights *w, const KProgram *p, const char *path);
void weights_free(Weights *w);

#endif
