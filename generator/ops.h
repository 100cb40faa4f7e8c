/*
** ops.h: the op table. Each op has one row: its shape rule (which also
** creates its parameters), what its backward reads, its scratch needs, its
** cost, and its forward/backward emitters. Adding an op means one line in
** ops.def, one row here, and its runtime kernels.
*/
#ifndef SKIPC_OPS_H
#define SKIPC_OPS_H

#include "ir.h"

struct Plan;
struct Emit;

/* What an op's emitters see: the graph, the plan (buffer names) and the
** node being emitted. */
typedef struct {
    struct Emit *e;
    const struct Plan *plan;
    const IrGraph *g;
    const IrNode *n;
} OpCtx;

enum { READS_INPUT = 1, READS_OUTPUT = 2 };

typedef struct {
    /* Checks sources and arguments, sets n->shape, creates parameters.
    ** On error writes a one-line message and returns -1. */
    int (*infer)(IrGraph *g, IrNode *n, char *err, size_t cap);
    unsigned backward_reads;   /* sources/output that must outlive backward */
    int64_t (*col_floats)(const IrGraph *g, const IrNode *n);   /* shared scratch */
    int64_t (*stat_floats)(const IrGraph *g, const IrNode *n);  /* private, batch-independent */
    double (*flops)(const IrGraph *g, const IrNode *n);         /* per sample, forward */
    void (*describe)(const IrGraph *g, const IrNode *n, char *buf, size_t cap);
    void (*emit_decl)(OpCtx *c);   /* file-scope geometry; may be NULL */
    void (*emit_fwd)(OpCtx *c);    /* NULL: a view, no code */
    void (*emit_bwd)(OpCtx *c);
} OpInfo;

extern const OpInfo op_table[OP_COUNT];   /* indexed by OpKind */
extern const char *const op_names[OP_COUNT];     /* spec name: "conv2d" */
extern const char *const op_prefixes[OP_COUNT];  /* default layer name: "conv" -> conv1 */

/* Pixels per channel: h*w for [C,H,W], 1 for vectors. */
int64_t ops_hw(Shape s);

/* Looks up an op by spec name; OP_COUNT if unknown. */
OpKind ops_find(const char *name);

#endif
