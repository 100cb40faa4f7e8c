/*
** ir.c: graph IR storage and whole-graph analysis (liveness, depth,
** parameter layout).
*/
#include "ir.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

IrGraph *ir_graph_new(void) {
    IrGraph *g = xcalloc(1, sizeof *g);
    g->input = g->output = -1;
    return g;
}

static void node_free(IrNode *n) {
    free(n->src);
    free(n->name);
    free(n->cname);
    free(n);
}

static void param_free(IrParam *p) {
    free(p->name);
    free(p->cname);
}

void ir_graph_free(IrGraph *g) {
    if (!g) return;
    for (int i = 0; i < g->nnodes; i++) node_free(g->nodes[i]);
    for (int i = 0; i < g->nparams; i++) param_free(&g->params[i]);
    for (int i = 0; i < g->nfiles; i++) free(g->files[i]);
    free(g->nodes);
    free(g->params);
    free(g->files);
    free(g);
}

const char *ir_intern_file(IrGraph *g, const char *f) {
    for (int i = 0; i < g->nfiles; i++)
        if (strcmp(g->files[i], f) == 0) return g->files[i];
    g->files = xrealloc(g->files, (size_t)(g->nfiles + 1) * sizeof *g->files);
    return g->files[g->nfiles++] = xstrdup(f);
}

void ir_node_drop_last(IrGraph *g) {
    IrNode *n = g->nodes[--g->nnodes];
    while (g->nparams > 0 && g->params[g->nparams - 1].node == n->id)
        param_free(&g->params[--g->nparams]);
    node_free(n);
}

IrNode *ir_node_new(IrGraph *g, OpKind op, const int *src, int nsrc,
                    const char *name, Loc loc, Loc user_loc) {
    IrNode *n = xcalloc(1, sizeof *n);
    if (g->nnodes == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->nodes = xrealloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
    }
    n->id = g->nnodes;
    n->op = op;
    n->nsrc = nsrc;
    n->src = xmalloc((size_t)(nsrc ? nsrc : 1) * sizeof *n->src);
    if (nsrc) memcpy(n->src, src, (size_t)nsrc * sizeof *src);
    n->name = xstrdup(name);
    n->cname = ir_cname(name);
    n->loc = loc;
    n->user_loc = user_loc;
    for (int i = 0; i < 4; i++) n->param[i] = -1;
    g->nodes[g->nnodes++] = n;
    return n;
}

/*
** Creates parameter "<node name>.<suffix>". Shapes were checked by the
** caller, but the element count is re-checked here against IR_MAX_ELEMS.
** Returns the parameter id, or -1 if it is absurdly large.
*/
int ir_param_new(IrGraph *g, IrNode *n, const char *suffix, ParamKind kind,
                 int ndim, const int *shape, int fan_in) {
    IrParam *p;
    int64_t len = 1;
    for (int i = 0; i < ndim; i++)
        if (mul_checked(len, shape[i], IR_MAX_ELEMS, &len) != 0) return -1;
    if (g->nparams == g->pcap) {
        g->pcap = g->pcap ? 2 * g->pcap : 64;
        g->params = xrealloc(g->params, (size_t)g->pcap * sizeof *g->params);
    }
    p = &g->params[g->nparams];
    memset(p, 0, sizeof *p);
    p->name = xasprintf("%s.%s", n->name, suffix);
    p->cname = ir_cname(p->name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->len = len;
    p->kind = kind;
    p->fan_in = fan_in;
    p->node = n->id;
    n->param[n->nparam++] = g->nparams;
    return g->nparams++;
}

char *ir_cname(const char *name) {
    char *c = xstrdup(name);
    for (char *p = c; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            *p = '_';
    return c;
}

static int has_flag(const IrNode *n, unsigned flag) { return (op_table[n->op].flags & flag) != 0; }

/* Marks every node the output depends on. */
static void mark_live(IrGraph *g) {
    g->nodes[g->output]->live = 1;
    for (int i = g->output; i >= 0; i--) {
        IrNode *n = g->nodes[i];
        if (!n->live) continue;
        for (int s = 0; s < n->nsrc; s++) g->nodes[n->src[s]]->live = 1;
    }
}

/* Warns once per dead end: a dead node that nothing else consumes. */
static void warn_dead(IrGraph *g) {
    char *consumed = xcalloc((size_t)g->nnodes, 1);
    for (int i = 0; i < g->nnodes; i++)
        for (int s = 0; s < g->nodes[i]->nsrc; s++) consumed[g->nodes[i]->src[s]] = 1;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (n->live || consumed[i]) continue;
        if (has_flag(n, OPF_INPUT))
            diag_warning(n->user_loc, "input '%s' is not used", n->name);
        else
            diag_warning(n->user_loc, "%s '%s' does not reach the output", op_names[n->op],
                         n->name);
    }
    free(consumed);
}

static int check_inputs(IrGraph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (has_flag(n, OPF_INPUT) && n->live && i != g->input) {
            diag_error(n->user_loc, "input '%s' reaches the output but is not the model's input"
                       " (one input per model)", n->name);
            return -1;
        }
    }
    if (!g->nodes[g->input]->live) {
        diag_error(g->model_loc, "model output does not depend on the model input");
        return -1;
    }
    return 0;
}

static int is_trainable(ParamKind k) {
    return k != PK_RUNNING_MEAN && k != PK_RUNNING_VAR;
}

/* Trainable tensors first, so grads mirror params[0, num_trainable). */
static int layout_params(IrGraph *g) {
    int64_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->nparams; i++) {
            IrParam *p = &g->params[i];
            if (!g->nodes[p->node]->live || is_trainable(p->kind) != (pass == 0)) continue;
            p->offset = off;
            off += p->len;
            if (off > IR_MAX_ELEMS) {
                diag_error(g->nodes[p->node]->user_loc, "model has more than %d parameters",
                           IR_MAX_ELEMS);
                return -1;
            }
        }
        if (pass == 0) g->num_trainable = off;
    }
    g->num_params = off;
    if (g->num_trainable == 0) {
        diag_error(g->model_loc, "model has nothing to train: no layer between its input and "
                   "output has parameters");
        return -1;
    }
    return 0;
}

/*
** A live add is a residual skip that lesion studies may cut: its identity
** input is the shallowest one (fewest weighted layers; the first on a tie),
** every other input is the branch that a dropped block loses.
*/
static void mark_skip(IrGraph *g, IrNode *n) {
    n->skip = n->identity = -1;
    if (!has_flag(n, OPF_RESIDUAL) || !n->live) return;
    n->identity = 0;
    for (int s = 1; s < n->nsrc; s++)
        if (g->nodes[n->src[s]]->depth < g->nodes[n->src[n->identity]]->depth) n->identity = s;
    n->skip = g->num_skips++;
}

int ir_analyze(IrGraph *g) {
    mark_live(g);
    warn_dead(g);
    if (check_inputs(g) != 0) return -1;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        int depth = 0, from = n->nparam > 0;
        for (int s = 0; s < n->nsrc; s++) {
            IrNode *src = g->nodes[n->src[s]];
            if (src->depth > depth) depth = src->depth;
            from |= src->from_param;
        }
        n->depth = depth + has_flag(n, OPF_WEIGHTED);
        n->from_param = from;
        mark_skip(g, n);
    }
    return layout_params(g);
}
