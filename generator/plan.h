/*
** plan.h: the static memory plan and the step list. Every activation and
** gradient gets a fixed offset in one arena, decided here from liveness over
** the whole forward + loss + backward timeline; the emitter only prints.
*/
#ifndef SKIPC_PLAN_H
#define SKIPC_PLAN_H

#include "ir.h"

typedef enum {
    REGION_BATCH,      /* offset * n from the arena start */
    REGION_FIXED,      /* after the batch region, independent of n */
    REGION_EXTERNAL    /* the caller's x or dx */
} Region;

typedef struct {
    char *cname;       /* enum constant: X_conv1, D_conv1, S_bn1 */
    Region region;
    int64_t floats;    /* per sample in REGION_BATCH, absolute in REGION_FIXED */
    int64_t offset;
    int birth, death;  /* first and last step touching it */
    int node;          /* node it belongs to, -1 for shared scratch */
    int is_grad;
    int dx_only;       /* only needed when the caller asks for d(loss)/dx */
} Buffer;

typedef enum { STEP_FORWARD, STEP_LOSS, STEP_BACKWARD } StepKind;

typedef struct {
    StepKind kind;
    int node;
    int dx_only;       /* the whole step only feeds dx: guarded by if (dx) */
} Step;

typedef struct Plan {
    const IrGraph *g;
    Buffer *bufs;
    int nbufs;
    Step *steps;
    int nsteps;
    int *val, *grad, *stats;     /* per node: buffer ids, -1 when none */
    int *scratch_fwd, *scratch_bwd;  /* per node: kernel scratch of each step */
    /* C expressions the emitters print, per node and per parameter. */
    char **val_expr, **grad_expr, **stat_expr;
    char **param_expr, **pgrad_expr;
    char **scratch_fwd_expr, **scratch_bwd_expr;
    int64_t per_sample, fixed;   /* arena floats = per_sample * n + fixed */
} Plan;

/* Builds the plan for an analysed graph; -1 (with a diagnostic) if the
** arena would not fit the generated code's int offsets. */
int plan_build(Plan *p, const IrGraph *g);
void plan_free(Plan *p);

#endif
