/*
** passes.h: rewrites of a kernel-call program between autodiff and the
** memory plan. Each lives in its own file (pass_NAME.c) with its own unit
** test (tests/test_pass_NAME.c); passes_run applies them in order.
*/
#ifndef SKIPC_PASSES_H
#define SKIPC_PASSES_H

#include "kir.h"

/* The first contribution to a gradient buffer writes it instead of
** accumulating into a cleared one; returns the clearings removed. */
int pass_write_first(KProgram *p);

/* A gradient copied whole from another (an add's backward) becomes that
** other buffer where legal; returns the copies removed. */
int pass_add_alias(KProgram *p);

/* Batchnorm + relu (+ residual add) forward as one call, relu backward
** folded into batchnorm backward; returns the fusions made. */
int pass_fuse(KProgram *p);

/* Concatenation inputs written in place, as slices of its output, and
** their gradients as slices of its gradient; returns the inputs so placed. */
int pass_concat(KProgram *p);

/* A fused batchnorm + relu of a concatenation recomputed in backward
** instead of kept; returns the outputs no longer kept. */
int pass_remat(KProgram *p);

/* Builds inf, the evaluation-mode forward of train alone, with buffers of
** its own (IX_conv1); returns its call count. */
int pass_inference(KProgram *inf, const KProgram *train);

/* Deployment builds: evaluation-mode batchnorms folded into the
** convolution or linear layer before them, and the parameters renumbered
** into p->dparams; returns the batchnorms folded. */
int pass_fold(KProgram *p);

/* Inference: a direct convolution followed by an evaluation-mode
** batchnorm (+ residual add, relu), or by a relu (add + relu), as one call
** doing those in its epilogue; returns the fusions made. */
int pass_epilogue(KProgram *p);

/* The training program's passes, in order; remat 0 leaves out pass_remat
** (more memory, one elementwise pass less per batchnorm in backward). */
void passes_run(KProgram *p, int remat);

#endif
