/*
** ops.h: the op table. Each op has one row: its shape rule (which also
** creates its parameters), its scratch needs, its cost, and its lowering to
** kernel calls for forward and backward. Adding an op means one line in
** ops.def, one row here, and its runtime kernels.
*/
#ifndef SKIPC_OPS_H
#define SKIPC_OPS_H

#include "ir.h"

#include <stddef.h>

struct Lower;

enum {
    OPF_INPUT = 1,      /* the model's input: the caller's buffer, no code */
    OPF_VIEW = 2,       /* no code: shares its source's buffers (flatten) */
    OPF_SKIP = 4,       /* a skip connection (add, concat): a layer of its own in tables */
    OPF_RESIDUAL = 8,   /* a residual add: lesion studies may drop all but its identity */
    OPF_WEIGHTED = 16   /* a weighted layer (conv, linear): counts in a path's depth */
};

/*
** One argument of an op's spec call after its tensor: positional ones in
** order, then options in a trailing table. The spec binding (spec_lua.c)
** reads them as the row lists them and stores each offset bytes into the
** node's op arguments (IrNode.a).
*/
typedef enum { OA_INT, OA_BOOL, OA_NUM } OpArgType;

typedef struct {
    const char *name;    /* a positional one: what errors call it; an option: its key */
    OpArgType type;
    int positional;      /* 1: positional, 2: positional and may be left out; 0: option */
    double def;          /* default of one that may be left out */
    int def_from;        /* >= 0: defaults to that argument instead (pool stride = kernel) */
    size_t offset;
} OpArg;

#define OP_ARG(field) (offsetof(IrNode, a.field) - offsetof(IrNode, a))

typedef struct {
    /* Checks sources and arguments, sets n->shape, creates parameters.
    ** On error writes a one-line message and returns -1. */
    int (*infer)(IrGraph *g, IrNode *n, char *err, size_t cap);
    unsigned flags;            /* OPF_* */
    /* kernel scratch per slice, forward (backward 0) or backward */
    int64_t (*col_floats)(const IrGraph *g, const IrNode *n, int backward);
    int64_t (*stat_floats)(const IrGraph *g, const IrNode *n);  /* private, batch-independent */
    double (*flops)(const IrGraph *g, const IrNode *n);         /* per sample, forward */
    void (*describe)(const IrGraph *g, const IrNode *n, char *buf, size_t cap);
    /* Append the node's kernel calls; NULL for the input and views. */
    void (*lower_fwd)(struct Lower *l);
    void (*lower_bwd)(struct Lower *l);
    /* The spec call's arguments after the tensor, ended by a NULL name, for
    ** ops bound to l_args; NULL for the others. */
    const OpArg *args;
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
