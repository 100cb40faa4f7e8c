/*
** autodiff.h: lowers an analysed graph to the kernel-call IR: buffers, the
** forward calls, the loss, and the backward calls in reverse layer order,
** each op's through its row of the op table (ops_lower.c).
*/
#ifndef SKIPC_AUTODIFF_H
#define SKIPC_AUTODIFF_H

#include "kir.h"

/* What an op's lowering sees, and where its calls go. */
typedef struct Lower {
    KProgram *p;
    const IrGraph *g;
    const IrNode *n;
    KList *out;
    int t;             /* the step's time */
    unsigned guard;    /* G_* every call of the step gets */
    int opened;        /* the step's first call is made */
} Lower;

/* Appends a call of kernel k. The one place that decides how a gradient
** wanted only for dx is gated: the whole step when the node's own gradient
** is such (guard), a nullable argument as (dx ? buffer : NULL), any other
** call by its own if (dx). */
void lower_call(Lower *l, KernelId k, const KArg *args, int nargs);
#define LOWER(l, k, ...)                                                          \
    lower_call(l, k, (const KArg[]){__VA_ARGS__},                                 \
               (int)(sizeof((const KArg[]){__VA_ARGS__}) / sizeof(KArg)))

/* Builds p from g (after ir_analyze). */
void autodiff(KProgram *p, const IrGraph *g);

#endif
