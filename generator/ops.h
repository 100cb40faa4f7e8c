/*
** ops.h: the op table. Each op has one row: its shape rule (which also
** creates its parameters), its scratch needs, its cost, and its lowering to
** kernel calls for forward and backward. Adding an op means one line in
** ops.def, one row here, and its runtime kernels.
*/
#ifndef SKIPC_OPS_H
#define SKIPC_OPS_H

#include "ir.h"

struct Lower;

enum {
    OPF_INPUT = 1,      /* the model's input: the caller's buffer, no code */
    OPF_VIEW = 2,       /* no code: shares its source's buffers (flatten) */
    OPF_SKIP = 4,       /* a skip connection (add, concat): a layer of its own in tables */
    OPF_RESIDUAL = 8,   /* a residual add: lesion studies may drop all but its identity */
    OPF_WEIGHTED = 16   /* a weighted layer (conv, linear): counts in a path's depth */
};

typedef struct {
    /* Checks sources and arguments, sets n->shape, creates parameters.
    ** On error writes a one-line message and returns -1. */
    int (*infer)(IrGraph *g, IrNode *n, char *err, size_t cap);
    unsigned flags;            /* OPF_* */
    int64_t (*col_floats)(const IrGraph *g, const IrNode *n);   /* kernel scratch */
    int64_t (*stat_floats)(const IrGraph *g, const IrNode *n);  /* private, batch-independent */
    double (*flops)(const IrGraph *g, const IrNode *n);         /* per sample, forward */
    void (*describe)(const IrGraph *g, const IrNode *n, char *buf, size_t cap);
    /* Append the node's kernel calls; NULL for the input and views. */
    void (*lower_fwd)(struct Lower *l);
    void (*lower_bwd)(struct Lower *l);
} OpInfo;

extern const OpInfo op_table[OP_COUNT];   /* indexed by OpKind */
extern const char *const op_names[OP_COUNT];     /* spec name: "conv2d" */
extern const char *const op_prefixes[OP_COUNT];  /* default layer name: "conv" -> conv1 */

/* Looks up an op by spec name; OP_COUNT if unknown. */
OpKind ops_find(const char *name);

/* A node that runs kernels (live, neither the input nor a view). */
int ops_has_code(const IrNode *n);

/* The node whose kernels compute node's tensor: views resolve to their
** source. */
int ops_root(const IrGraph *g, int node);

/* A layer in the model's tables (and gradient probes): a live node with
** parameters, or a skip. */
int ops_is_layer(const IrNode *n);

#endif
