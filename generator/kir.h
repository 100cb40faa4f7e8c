/*
** kir.h: the kernel-call IR, what the middle end works on.
**
** A KProgram is a model's buffers and three lists of kernel calls in
** execution order: forward, loss and backward. Autodiff builds it from the
** graph (autodiff.c); passes rewrite it (pass_*.c); the memory plan gives
** its buffers offsets from the calls that touch them (plan.c); the renderer
** prints it (render.c). Nothing before the renderer holds C text.
**
** Every call has a time t on the plan's timeline: one step per layer in
** forward, one for the loss, one per layer in backward. Calls of one step
** share it, so a buffer written and read within a step never shares memory
** with another buffer of that step.
*/
#ifndef SKIPC_KIR_H
#define SKIPC_KIR_H

#include "ir.h"

typedef enum {
#define KERNEL(id, fn, form, nullable, store, set, layout) K_##id,
#include "kernels.def"
#undef KERNEL
    K_COUNT
} KernelId;

#define K_NONE K_COUNT

/* How the renderer writes a call. */
typedef enum {
    KF_CALL,      /* fn(args); */
    KF_RETURN,    /* return fn(args); */
    KF_PROBE,     /* if (grad_sumsq) grad_sumsq[L_node] = fn(args); */
    KF_NOTE       /* no code: a comment saying why the layer has none */
} KForm;

typedef struct {
    const char *fn;
    KForm form;
    unsigned nullable;   /* bit i: argument i may be NULL */
    int store;           /* argument stored as the trailing RtStore says, or -1 */
    KernelId set;        /* the kernel writing what this one accumulates, or K_NONE */
    const char *layout;  /* per argument: 'x', 'y', 's' or '.' (kernels.def) */
} KernelInfo;

extern const KernelInfo kernel_table[K_COUNT];

/* {====================================================================
** Buffers
** ===================================================================== */

typedef enum {
    REGION_BATCH,      /* offset * n from the arena start */
    REGION_FIXED,      /* after the batch region, independent of n */
    REGION_SCRATCH,    /* after that, offset * rt_scratch_slices(n): kernel scratch */
    REGION_EXTERNAL    /* the caller's x or dx */
} Region;

typedef enum { BUF_VALUE, BUF_GRAD, BUF_STATS, BUF_SCRATCH } BufKind;

/*
** A buffer may be a slice of another (parent >= 0): the floats
** [slice_off, slice_off + floats) of every sample of its parent, as the
** inputs of a concatenation are slices of its output once they are written
** in place. Slices nest; the outermost buffer, the root, is the one the
** memory plan places, and a slice's samples lie the root's size apart.
*/
typedef struct {
    char *cname;       /* enum constant: X_conv1, D_conv1, S_bn1, T_conv1 */
    BufKind kind;
    Region region;
    int64_t floats;    /* per sample in REGION_BATCH, absolute in REGION_FIXED */
    int node;          /* node it belongs to, -1 for kernel scratch */
    int dx_only;       /* only needed when the caller asks for d(loss)/dx */
    int parent;        /* the buffer it is a slice of, or -1 */
    int64_t slice_off; /* where in each sample of parent */
    /* Set by the memory plan: */
    int64_t offset;
    int birth, death;  /* first and last step touching it; death -1: never */
} Buffer;

/* }==================================================================== */

/* {====================================================================
** Kernel calls
** ===================================================================== */

typedef enum { ACC_NONE, ACC_READ, ACC_WRITE, ACC_ACCUM } Access;

typedef enum {
    ARG_BUF,       /* a buffer, ref = buffer id, plus off floats */
    ARG_PARAM,     /* a parameter, ref = parameter id */
    ARG_PGRAD,     /* a parameter's gradient, ref = parameter id */
    ARG_NULL,      /* an output the kernel need not compute */
    ARG_INT,       /* i */
    ARG_FLOAT,     /* f */
    ARG_BATCH,     /* the batch size n */
    ARG_LEN,       /* n * i elements */
    ARG_GEOM,      /* the geometry of node ref */
    ARG_TARGET,    /* the loss target: i = 0 int32 labels, 1 float targets */
    ARG_STRIDE     /* the sample stride of the buffer of argument i */
} ArgKind;

typedef struct {
    ArgKind kind;
    Access access;     /* BUF, PARAM, PGRAD */
    int ref;
    int64_t off;
    int64_t i;
    float f;
    int if_dx;         /* BUF: passed only when the caller asks for dx, else NULL */
} KArg;

/* Conditions a call runs under. */
enum {
    G_DX = 1,          /* only when the caller asks for dx */
    G_TRAIN = 2,       /* training forward */
    G_EVAL = 4,        /* evaluation forward */
    G_DROP = 8,        /* the residual add of node is switched off (drop[]) */
    G_KEEP = 16        /* ... and is not */
};

enum { KIR_MAX_ARGS = 14, KIR_MAX_ALSO = 3 };

typedef struct {
    KernelId k;
    int nargs;
    KArg args[KIR_MAX_ARGS];
    int node;          /* the layer it computes (KF_PROBE: the layer probed) */
    int also[KIR_MAX_ALSO];  /* other layers a fused call computes */
    int nalso;
    int t;             /* step on the timeline */
    unsigned guard;    /* G_* */
    int opens;         /* first call of a layer's code: OPEN_LAYER or OPEN_LOSS */
} KCall;

enum { OPEN_NONE, OPEN_LAYER, OPEN_LOSS };

typedef struct {
    KCall *v;
    int n, cap;
} KList;

/* A file-scope geometry record (RtConv, RtNorm, RtPool) of one node: its
** values, then the sample strides of the node's input and output (the
** dense sizes unless kprog_layout finds slices). */
typedef struct {
    const char *type;
    int node;
    int nv;
    int v[12];
    int64_t xs, ys;
} KGeom;

/*
** A deployment build's parameters (pass_fold.c): each a training parameter
** copied as it is, or the weight or bias of a layer with the
** evaluation-mode batchnorm after it folded in (rt_fold_batchnorm). In a
** program that has them (ndparams > 0), ARG_PARAM refers to this table.
*/
typedef enum { DP_COPY, DP_FOLD_WEIGHT, DP_FOLD_BIAS } DParamKind;

typedef struct {
    char *name, *cname;     /* the layer's: "layer1.0.conv1.weight", "..._bias" */
    int ndim, shape[4];
    int64_t len, offset;    /* offset: floats into the deployment params */
    DParamKind kind;
    int src;                /* the training parameter (FOLD_BIAS: -1 if the layer had none) */
    int pair;               /* FOLD_*: the entry folded together with this one */
    int bn[4];              /* FOLD_*: the batchnorm's gamma, beta, running mean and var */
    float eps;
} DParam;

typedef struct KProgram {
    const IrGraph *g;
    Buffer *bufs;
    int nbufs;
    int *val, *grad, *stats;     /* per node: buffer ids, -1 when none */
    int *scratch_fwd, *scratch_bwd;
    KList fwd, loss, bwd;
    int nsteps;
    int infer;                   /* the inference program: its scratch is IT(), not T() */
    KGeom *geoms;
    int ngeoms;
    DParam *dparams;             /* deployment builds only, else NULL */
    int ndparams;
    int64_t num_dparams;         /* floats */
} KProgram;

/* }==================================================================== */

void kprog_init(KProgram *p, const IrGraph *g);
void kprog_free(KProgram *p);
int kprog_new_buffer(KProgram *p, BufKind kind, const char *cname, int node, Region r,
                     int64_t floats);
/* Per training parameter, 1 if a deployment build's parameters (dparams)
** are made from it: copies, folded weights and biases, the batchnorm
** statistics folded in. Caller frees. */
char *kprog_dparam_sources(const KProgram *p);
/* Appends a call; returns it for the caller to finish. */
KCall *klist_push(KList *l, const KCall *c);
void klist_remove(KList *l, int i);
/* Removes the calls i with drop[i] set, keeping the others in order: one
** pass over the list where removing them one by one would take n each. */
void klist_compact(KList *l, const char *drop);
/* Removes call i as a pass deleting it does: a layer block it opened goes
** on with the layer's next call. Returns 1 if there was none (the block is
** gone), else 0. */
int klist_drop(KList *l, int i);
void klist_insert(KList *l, int i, const KCall *c);   /* c becomes call i */
KGeom *kprog_new_geom(KProgram *p, const char *type, int node);

/* Argument constructors. */
KArg karg_buf(int buf, Access a);
KArg karg_param(int param, Access a);
KArg karg_pgrad(int param);
KArg karg_null(void);
KArg karg_int(int64_t v);
KArg karg_float(float v);
KArg karg_batch(void);
KArg karg_len(int64_t per_sample);
KArg karg_geom(int node);
KArg karg_target(int is_float);
KArg karg_stride(int arg);

/* Access masks for the queries below. */
#define KIR_READS (1u << ACC_READ)
#define KIR_WRITES (1u << ACC_WRITE | 1u << ACC_ACCUM)
#define KIR_ANY (~0u)

/* Index of the argument of c that refers to buffer b with an access in
** mask, or -1. */
int kcall_find_buf(const KCall *c, int b, unsigned mask);
/* How many arguments of c refer to b with an access in mask. */
int kcall_count_buf(const KCall *c, int b, unsigned mask);
/* Per buffer, how many arguments of p's calls read it and how many use it
** at all, for every buffer in one pass over the program.
** A pass keeps it true by taking a call's arguments out (sign -1) before
** changing or removing the call and putting them back (+1) after. */
typedef struct {
    int *reads, *any;
} KCounts;

void kcounts_build(KCounts *k, const KProgram *p);
void kcounts_call(KCounts *k, const KCall *c, int sign);
void kcounts_free(KCounts *k);

/* The first call of l from index from on that uses b as mask says, or -1. */
int klist_next_use(const KList *l, int from, int b, unsigned mask);
/* The only call of l after i reading b, if b has no reader elsewhere, or -1. */
int klist_sole_reader(const KCounts *k, const KList *l, int i, int b);
/* Whether some call of l in (i, j) writes buffer b. */
int klist_written_between(const KList *l, int i, int j, int b);

/* {====================================================================
** Slices and strides
** ===================================================================== */

/* The root of buffer b, and b's offset in each of its samples. */
int kbuf_root(const KProgram *p, int b, int64_t *off);
/* Floats from one sample of b to the next: its root's size. */
int64_t kbuf_stride(const KProgram *p, int b);
/* Whether b is laid out as a buffer of its own (offset 0, its own stride). */
int kbuf_dense(const KProgram *p, int b);

/*
** Checks that every kernel call finds its tensors where kernels.def's
** layouts say: a tensor that is not dense only where the kernel takes its
** stride, and the calls sharing a geometry agreeing on its strides. On
** success returns 0 and, when set is nonzero, writes the strides into
** geoms[]; returns -1 otherwise. geoms is p's own or, for a program that
** shares another's geometry records (the inference program), that one's.
*/
int kprog_layout(const KProgram *p, KGeom *geoms, int ngeoms, int set);

/* }==================================================================== */

#endif
