/*
** render.c: kernel calls as C statements. Buffers print as their arena
** macros (A() per sample, S() batch-independent), parameters as P()/G(),
** dimensions as literals. Guards become if/else around the calls they
** cover; a layer's calls follow one comment naming it.
*/
#include "render.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A slice prints as its root plus its offset in sample 0. */
const char *render_buffer(const KProgram *p, int buf, char *out, size_t cap) {
    int64_t off;
    const Buffer *b = &p->bufs[kbuf_root(p, buf, &off)];
    switch (b->region) {
    case REGION_BATCH: snprintf(out, cap, "A(%s)", b->cname); break;
    case REGION_FIXED: snprintf(out, cap, "S(%s)", b->cname); break;
    case REGION_SCRATCH: snprintf(out, cap, "%s(%s)", p->infer ? "IT" : "T", b->cname); break;
    default: snprintf(out, cap, "%s", b->cname); break;
    }
    if (off) snprintf(out + strlen(out), cap - strlen(out), " + %lld", (long long)off);
    return out;
}

/*
** "specs/resnet.lua:14": the user's spec line. A layer made inside the block
** library reports the spec line that called the block, not the library's,
** so editing the library does not touch every generated file.
*/
void render_loc(const IrNode *n, char *buf, size_t cap) {
    snprintf(buf, cap, "%s:%d", n->user_loc.file, n->user_loc.line);
}

void render_geometry(Emit *e, const KProgram *p) {
    const KList *lists[] = {&p->fwd, &p->loss, &p->bwd};
    char *used = xcalloc((size_t)p->g->nnodes, 1);   /* nodes whose record a call passes */
    int any = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < lists[k]->n; i++)
            for (int a = 0; a < lists[k]->v[i].nargs; a++)
                if (lists[k]->v[i].args[a].kind == ARG_GEOM) used[lists[k]->v[i].args[a].ref] = 1;
    for (int i = 0; i < p->ngeoms; i++) {
        const KGeom *gm = &p->geoms[i];
        Str s = {0};
        if (!used[gm->node]) continue;
        if (!any++) {
            emit_blank(e);
            emit_line(e, "/* Layer geometry (per sample), then the sample strides of input and "
                         "output. */");
        }
        for (int k = 0; k < gm->nv; k++) str_addf(&s, "%d, ", gm->v[k]);
        str_addf(&s, "%lld, %lld", (long long)gm->xs, (long long)gm->ys);
        emit_line(e, "static const %s g_%s = {%s};", gm->type, p->g->nodes[gm->node]->cname,
                  s.buf);
        str_free(&s);
    }
    free(used);
}

static void render_arg(Str *s, const KProgram *p, const KCall *c, const KArg *a) {
    char b[256], f[32];
    switch (a->kind) {
    case ARG_BUF:
        render_buffer(p, a->ref, b, sizeof b);
        if (a->off) snprintf(b + strlen(b), sizeof b - strlen(b), " + %lld", (long long)a->off);
        if (a->if_dx) str_addf(s, "(dx ? %s : NULL)", b);
        else str_add(s, b);
        break;
    case ARG_PARAM:
        str_addf(s, "P(P_%s)", p->dparams ? p->dparams[a->ref].cname : p->g->params[a->ref].cname);
        break;
    case ARG_PGRAD: str_addf(s, "G(P_%s)", p->g->params[a->ref].cname); break;
    case ARG_NULL: str_add(s, "NULL"); break;
    case ARG_INT: str_addf(s, "%lld", (long long)a->i); break;
    case ARG_FLOAT: str_add(s, emit_float(a->f, f, sizeof f)); break;
    case ARG_BATCH: str_add(s, "n"); break;
    case ARG_LEN: str_addf(s, "(size_t)n * %lld", (long long)a->i); break;
    case ARG_GEOM: str_addf(s, "&g_%s", p->g->nodes[a->ref]->cname); break;
    case ARG_TARGET: str_add(s, a->i ? "(const float *)target" : "(const int32_t *)target"); break;
    case ARG_STRIDE: str_addf(s, "%lld", (long long)kbuf_stride(p, c->args[a->i].ref)); break;
    }
}

/* fn(a, b, ...) without the semicolon; a kernel that can either write or
** accumulate a gradient gets RT_SET or RT_ADD last, from that argument's
** access. */
static void render_invocation(Str *s, const KProgram *p, const KCall *c) {
    int st = kernel_table[c->k].store;
    str_addf(s, "%s(", kernel_table[c->k].fn);
    for (int i = 0; i < c->nargs; i++) {
        if (i) str_add(s, ", ");
        render_arg(s, p, c, &c->args[i]);
    }
    if (st >= 0) str_add(s, c->args[st].access == ACC_WRITE ? ", RT_SET" : ", RT_ADD");
    str_add(s, ")");
}

/* One statement; dx_guard: prefix "if (dx) " when the call has G_DX. */
static void render_call(Emit *e, const KProgram *p, const KCall *c, int dx_guard) {
    const char *pre = dx_guard && (c->guard & G_DX) ? "if (dx) " : "";
    Str s = {0};
    switch (kernel_table[c->k].form) {
    case KF_CALL:
        render_invocation(&s, p, c);
        emit_line(e, "%s%s;", pre, s.buf);
        break;
    case KF_RETURN:
        render_invocation(&s, p, c);
        emit_line(e, "return %s;", s.buf);
        break;
    case KF_NOTE:
        emit_line(e, "/* in place: its inputs are slices of its channels, nothing to copy */");
        break;
    case KF_PROBE:
        render_invocation(&s, p, c);
        emit_line(e, "if (grad_sumsq%s) grad_sumsq[L_%s] = %s;", c->guard & G_DX ? " && dx" : "",
                  p->g->nodes[c->node]->cname, s.buf);
        break;
    }
    str_free(&s);
}

static void render_indented(Emit *e, const KProgram *p, const KCall *c, int dx_guard) {
    e->ind++;
    render_call(e, p, c, dx_guard);
    e->ind--;
}

/* Calls [0, n) of one layer: training/evaluation pairs and drop switches
** become if/else. */
static void render_run(Emit *e, const KProgram *p, const KCall *c, int n, int dx_guard) {
    for (int i = 0; i < n; i++) {
        if (c[i].guard & G_TRAIN) {
            emit_line(e, "if (training)");
            render_indented(e, p, &c[i], dx_guard);
        } else if (c[i].guard & G_EVAL) {
            emit_line(e, "else");
            render_indented(e, p, &c[i], dx_guard);
        } else if (c[i].guard & G_DROP) {
            int keep = 0;
            while (i + 1 + keep < n && (c[i + 1 + keep].guard & G_KEEP)) keep++;
            int modes = keep == 2 && (c[i + 1].guard & G_TRAIN) && (c[i + 2].guard & G_EVAL);
            emit_line(e, "if (drop && drop[K_%s])%s", p->g->nodes[c[i].node]->cname,
                      keep > 1 && !modes ? " {" : "");
            render_indented(e, p, &c[i], dx_guard);
            if (modes) {   /* a fused call kept: else if (training) ... else ... */
                emit_line(e, "else if (training)");
                render_indented(e, p, &c[i + 1], dx_guard);
                emit_line(e, "else");
                render_indented(e, p, &c[i + 2], dx_guard);
            } else {
                emit_line(e, keep > 1 ? "} else {" : "else");
                for (int k = 1; k <= keep; k++) render_indented(e, p, &c[i + k], dx_guard);
                if (keep > 1) emit_line(e, "}");
            }
            i += keep;
        } else {
            render_call(e, p, &c[i], dx_guard);
        }
    }
}

static int cmp_int(const void *a, const void *b) {
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* The layers calls [0, n) compute, in forward (node) order, each once, into
** ids (room for n * (1 + KIR_MAX_ALSO)); returns how many. */
static int covered_nodes(const KCall *c, int n, int *ids) {
    int m = 0, k = 0;
    for (int i = 0; i < n; i++) {
        ids[m++] = c[i].node;
        for (int a = 0; a < c[i].nalso; a++) ids[m++] = c[i].also[a];
    }
    qsort(ids, (size_t)m, sizeof *ids, cmp_int);
    for (int i = 0; i < m; i++)
        if (i == 0 || ids[i] != ids[i - 1]) ids[k++] = ids[i];
    return k;
}

/* Appends loc to list (n of them so far) unless it is there already. */
static int add_loc(Loc *list, int n, Loc loc) {
    for (int i = 0; i < n; i++)
        if (list[i].line == loc.line && strcmp(list[i].file, loc.file) == 0) return n;
    list[n] = loc;
    return n + 1;
}

/* "specs/resnet.lua:35, generator/lib/skipc/blocks.lua:23, 24": a file
** named once for consecutive lines of it. */
static void locs_text(Str *s, const Loc *list, int n) {
    for (int i = 0; i < n; i++) {
        if (i && strcmp(list[i].file, list[i - 1].file) == 0) str_addf(s, ", %d", list[i].line);
        else str_addf(s, "%s%s:%d", i ? ", " : "", list[i].file, list[i].line);
    }
}

/*
** The comment over a block of calls: the layers it computes in forward
** order ("bn1 + relu"), what they are ("batchnorm + relu"), the shape going
** in (" ..." with more inputs) and out, and where they come from: the
** user's spec lines, then for layers made in the block library the
** library's lines, each once.
*/
static void layer_comment(Emit *e, const IrGraph *g, const KCall *c, int n) {
    int cap = n * (1 + KIR_MAX_ALSO), *ids = xmalloc((size_t)cap * sizeof *ids);
    int nids = covered_nodes(c, n, ids);
    char desc[128], in[64], out[64];
    Loc *user = xmalloc((size_t)nids * sizeof *user), *lib = xmalloc((size_t)nids * sizeof *lib);
    int nuser = 0, nlib = 0, more = 0;
    Str names = {0}, descs = {0}, locs = {0}, text = {0}, safe = {0};
    const IrNode *first = NULL, *last = NULL;
    for (int k = 0; k < nids; k++) {
        const IrNode *nd = g->nodes[ids[k]];
        op_table[nd->op].describe(g, nd, desc, sizeof desc);
        str_addf(&names, "%s%s", first ? " + " : "", nd->name);
        str_addf(&descs, "%s%s", first ? " + " : "", desc);
        nuser = add_loc(user, nuser, nd->user_loc);
        if (nd->loc.line != nd->user_loc.line || strcmp(nd->loc.file, nd->user_loc.file) != 0)
            nlib = add_loc(lib, nlib, nd->loc);
        more |= nd->nsrc > 1;
        if (!first) first = nd;
        last = nd;
    }
    locs_text(&locs, user, nuser);
    if (nlib) {
        str_add(&locs, ", ");
        locs_text(&locs, lib, nlib);
    }
    shape_str(g->nodes[first->src[0]]->shape, in, sizeof in);
    shape_str(last->shape, out, sizeof out);
    str_addf(&text, "%s: %s, %s%s -> %s  (%s)", names.buf, descs.buf, in, more ? " ..." : "", out,
             locs.buf);
    emit_line(e, "/* %s */", emit_comment_text(&safe, text.buf));
    str_free(&names); str_free(&descs); str_free(&locs); str_free(&text); str_free(&safe);
    free(ids); free(user); free(lib);
}

/* Where the block opened by call i ends: the calls of the same node that
** follow it without opening one of their own. */
static int block_end(const KList *l, int i) {
    int j = i + 1;
    while (j < l->n && l->v[j].opens == OPEN_NONE && l->v[j].node == l->v[i].node &&
           kernel_table[l->v[j].k].form == KF_CALL)
        j++;
    return j;
}

int render_marks(const KProgram *p, const KCall *c) {
    return !p->infer && c->opens != OPEN_NONE && kernel_table[c->k].form != KF_NOTE;
}

void render_list(Emit *e, const KProgram *p, const KList *l) {
    const IrGraph *g = p->g;
    for (int i = 0; i < l->n; i++) {
        const KCall *c = &l->v[i];
        int end, all_dx = 1;
        if (c->opens == OPEN_NONE) {
            render_call(e, p, c, 1);
            continue;
        }
        end = block_end(l, i);
        if (c->opens == OPEN_LAYER) {
            layer_comment(e, g, c, end - i);
        } else {
            Str name = {0};
            emit_line(e, "/* loss: %s over %s */",
                      g->loss == LOSS_CROSS_ENTROPY ? "softmax cross-entropy" : "mean squared error",
                      emit_comment_text(&name, g->nodes[c->node]->name));
            str_free(&name);
        }
        if (render_marks(p, c)) emit_line(e, "RT_PROF(C_%s);", g->nodes[c->node]->cname);
        for (int k = i; k < end; k++) all_dx &= (l->v[k].guard & G_DX) != 0;
        if (all_dx) emit_open(e, "if (dx)");
        render_run(e, p, c, end - i, !all_dx);
        if (all_dx) emit_close(e, NULL);
        i = end - 1;
    }
}
