/*
** ir.h: the graph IR. An IrGraph owns every node and parameter, and the
** file names their locations point to; nodes are created in topological
** order (a node's sources always exist before it), so creation order is
** the forward order and the tie-breaker everywhere.
** Shapes are per sample: {C,H,W} (rank 3) or {N} (rank 1); the batch is
** implicit and only known at run time.
*/
#ifndef SKIPC_IR_H
#define SKIPC_IR_H

#include "shape.h"
#include "util.h"

typedef enum {
#define OP(id, name, prefix, bind, method, meta) OP_##id,
#include "ops.def"
#undef OP
    OP_COUNT
} OpKind;

/* Largest per-sample element count of any tensor, and of the whole arena:
** kernels index with int, and generated offsets are C enum constants. */
#define IR_MAX_ELEMS INT32_MAX
#define IR_MAX_DIM (1 << 20)
/* Longest layer or scope name a spec may give, and longest scope path. */
#define IR_MAX_NAME 64
#define IR_MAX_PATH 240


typedef enum { LOSS_CROSS_ENTROPY, LOSS_MSE } LossKind;

typedef enum {
    PK_WEIGHT, PK_BIAS, PK_BN_WEIGHT, PK_BN_BIAS, PK_RUNNING_MEAN, PK_RUNNING_VAR
} ParamKind;

typedef struct {
    char *name;        /* "layer1.0.conv1.weight" */
    char *cname;       /* "layer1_0_conv1_weight" */
    int ndim;
    int shape[4];
    int64_t len;
    ParamKind kind;
    int fan_in;        /* for Kaiming init */
    int node;
    int64_t offset;    /* floats into params; set by ir_layout_params */
} IrParam;

/* Per-op arguments: one small struct per op family (no Darknet-style
** everything-struct). */
typedef struct { int out, k, stride, pad, groups, bias; } ConvArgs;
typedef struct { int out, bias; } LinearArgs;
typedef struct { int k, stride, pad; } PoolArgs;
typedef struct { float momentum, eps; } NormArgs;
typedef struct { float slope; } LeakyArgs;
typedef struct { int factor; } UpsampleArgs;

typedef struct {
    int id;
    OpKind op;
    int nsrc;
    int *src;
    Shape shape;
    char *name;        /* scope path: "stage2.block1.conv1" */
    char *cname;       /* C identifier form */
    Loc user_loc;      /* the user's spec line that made it (or called its block) */
    Loc loc;           /* in the block library, the line of the block that made
                       ** it; otherwise user_loc */
    union {
        ConvArgs conv;
        LinearArgs linear;
        PoolArgs pool;
        NormArgs norm;
        LeakyArgs leaky;
        UpsampleArgs up;
    } a;
    int param[4];      /* ids into IrGraph.params, -1 when absent */
    int nparam;
    /* Filled by ir_analyze: */
    int live;          /* reaches the model output */
    int depth;         /* weighted layers on the longest path from the input */
    int from_param;    /* some ancestor-or-self owns parameters */
    int skip;          /* residual adds: index into the lesion switches, else -1 */
    int identity;      /* residual adds: the source kept when the branch is dropped */
} IrNode;

typedef struct IrGraph {
    IrNode **nodes;
    int nnodes, cap;
    char **files;                 /* file names of node locations, each once */
    int nfiles;
    IrParam *params;
    int nparams, pcap;
    int input, output;            /* node ids; -1 until model{} */
    LossKind loss;
    Loc model_loc;
    int64_t num_params, num_trainable;
    int num_skips;
} IrGraph;

IrGraph *ir_graph_new(void);
void ir_graph_free(IrGraph *g);

/* The graph's copy of file name f, made once: node locations point to it. */
const char *ir_intern_file(IrGraph *g, const char *f);

/* Appends a node; the caller fills op arguments and then calls
** ops_infer (which checks shapes and creates parameters). */
IrNode *ir_node_new(IrGraph *g, OpKind op, const int *src, int nsrc,
                    const char *name, Loc loc, Loc user_loc);
int ir_param_new(IrGraph *g, IrNode *n, const char *suffix, ParamKind kind,
                 int ndim, const int *shape, int fan_in);
/* Removes the last node and the parameters it made: an op call that failed
** after creating its node leaves nothing behind. */
void ir_node_drop_last(IrGraph *g);

/* Turns a dotted name into a C identifier ("layer1.0" -> "layer1_0"). */
char *ir_cname(const char *name);

/* Liveness from the output, depth, parameter offsets (trainable first).
** Reports unused inputs and dead layers as warnings. Returns -1 on error. */
int ir_analyze(IrGraph *g);

#endif
