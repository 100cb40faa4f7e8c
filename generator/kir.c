/*
** kir.c: storage of the kernel-call IR and the kernel table.
*/
#include "kir.h"

#include <stdlib.h>
#include <string.h>

const KernelInfo kernel_table[K_COUNT] = {
#define KERNEL(id, fn, form, nullable, store, set, layout) \
    [K_##id] = {fn, form, nullable, store, K_##set, layout},
#include "kernels.def"
#undef KERNEL
};

void kprog_init(KProgram *p, const IrGraph *g) {
    size_t nn = (size_t)g->nnodes;
    memset(p, 0, sizeof *p);
    p->g = g;
    p->val = xmalloc(nn * sizeof *p->val);
    p->grad = xmalloc(nn * sizeof *p->grad);
    p->stats = xmalloc(nn * sizeof *p->stats);
    p->scratch_fwd = xmalloc(nn * sizeof *p->scratch_fwd);
    p->scratch_bwd = xmalloc(nn * sizeof *p->scratch_bwd);
    for (size_t i = 0; i < nn; i++)
        p->val[i] = p->grad[i] = p->stats[i] = p->scratch_fwd[i] = p->scratch_bwd[i] = -1;
}

void kprog_free(KProgram *p) {
    for (int i = 0; i < p->nbufs; i++) free(p->bufs[i].cname);
    free(p->bufs);
    free(p->val); free(p->grad); free(p->stats);
    free(p->scratch_fwd); free(p->scratch_bwd);
    free(p->fwd.v); free(p->loss.v); free(p->bwd.v);
    free(p->geoms);
    for (int i = 0; i < p->ndparams; i++) {
        free(p->dparams[i].name);
        free(p->dparams[i].cname);
    }
    free(p->dparams);
    memset(p, 0, sizeof *p);
}

int kprog_new_buffer(KProgram *p, BufKind kind, const char *cname, int node, Region r,
                     int64_t floats) {
    Buffer *b;
    p->bufs = xrealloc(p->bufs, (size_t)(p->nbufs + 1) * sizeof *p->bufs);
    b = &p->bufs[p->nbufs];
    memset(b, 0, sizeof *b);
    b->cname = xstrdup(cname);
    b->kind = kind;
    b->region = r;
    b->floats = floats;
    b->node = node;
    b->parent = -1;
    b->birth = INT32_MAX;
    b->death = -1;
    return p->nbufs++;
}

char *kprog_dparam_sources(const KProgram *p) {
    char *used = xcalloc((size_t)p->g->nparams + 1, 1);
    for (int i = 0; i < p->ndparams; i++) {
        const DParam *d = &p->dparams[i];
        if (d->src >= 0) used[d->src] = 1;
        for (int k = 0; d->kind != DP_COPY && k < 4; k++) used[d->bn[k]] = 1;
    }
    return used;
}

KCall *klist_push(KList *l, const KCall *c) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n] = *c;
    return &l->v[l->n++];
}

void klist_remove(KList *l, int i) {
    memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof *l->v);
    l->n--;
}

void klist_compact(KList *l, const char *drop) {
    int n = 0;
    for (int i = 0; i < l->n; i++)
        if (!drop[i]) l->v[n++] = l->v[i];
    l->n = n;
}

int klist_drop(KList *l, int i) {
    KCall c = l->v[i];
    int next = i + 1 < l->n && l->v[i + 1].node == c.node && l->v[i + 1].opens == OPEN_NONE &&
               kernel_table[l->v[i + 1].k].form == KF_CALL;
    klist_remove(l, i);
    if (c.opens == OPEN_NONE) return 0;
    if (!next) return 1;
    l->v[i].opens = c.opens;
    return 0;
}

void klist_insert(KList *l, int i, const KCall *c) {
    klist_push(l, c);
    memmove(&l->v[i + 1], &l->v[i], (size_t)(l->n - 1 - i) * sizeof *l->v);
    l->v[i] = *c;
}

KGeom *kprog_new_geom(KProgram *p, const char *type, int node) {
    KGeom *gm;
    p->geoms = xrealloc(p->geoms, (size_t)(p->ngeoms + 1) * sizeof *p->geoms);
    gm = &p->geoms[p->ngeoms++];
    memset(gm, 0, sizeof *gm);
    gm->type = type;
    gm->node = node;
    return gm;
}

static KArg arg(ArgKind k) {
    KArg a;
    memset(&a, 0, sizeof a);
    a.kind = k;
    a.ref = -1;
    return a;
}

KArg karg_buf(int buf, Access acc) { KArg a = arg(ARG_BUF); a.ref = buf; a.access = acc; return a; }
KArg karg_param(int param, Access acc) {
    KArg a = arg(ARG_PARAM);
    a.ref = param;
    a.access = acc;
    return a;
}
KArg karg_pgrad(int param) { KArg a = arg(ARG_PGRAD); a.ref = param; a.access = ACC_ACCUM; return a; }
KArg karg_null(void) { return arg(ARG_NULL); }
KArg karg_int(int64_t v) { KArg a = arg(ARG_INT); a.i = v; return a; }
KArg karg_float(float v) { KArg a = arg(ARG_FLOAT); a.f = v; return a; }
KArg karg_batch(void) { return arg(ARG_BATCH); }
KArg karg_len(int64_t per_sample) { KArg a = arg(ARG_LEN); a.i = per_sample; return a; }
KArg karg_geom(int node) { KArg a = arg(ARG_GEOM); a.ref = node; return a; }
KArg karg_target(int is_float) { KArg a = arg(ARG_TARGET); a.i = is_float; return a; }
KArg karg_stride(int argi) { KArg a = arg(ARG_STRIDE); a.i = argi; return a; }

static int uses(const KArg *a, int b, unsigned mask) {
    return a->kind == ARG_BUF && a->ref == b && (mask >> a->access & 1);
}

int kcall_find_buf(const KCall *c, int b, unsigned mask) {
    for (int i = 0; i < c->nargs; i++)
        if (uses(&c->args[i], b, mask)) return i;
    return -1;
}

int kcall_count_buf(const KCall *c, int b, unsigned mask) {
    int n = 0;
    for (int i = 0; i < c->nargs; i++) n += uses(&c->args[i], b, mask);
    return n;
}

void kcounts_call(KCounts *k, const KCall *c, int sign) {
    for (int a = 0; a < c->nargs; a++) {
        if (c->args[a].kind != ARG_BUF) continue;
        k->any[c->args[a].ref] += sign;
        if (KIR_READS >> c->args[a].access & 1) k->reads[c->args[a].ref] += sign;
    }
}

void kcounts_build(KCounts *k, const KProgram *p) {
    const KList *lists[] = {&p->fwd, &p->loss, &p->bwd};
    k->reads = xcalloc((size_t)p->nbufs + 1, sizeof *k->reads);
    k->any = xcalloc((size_t)p->nbufs + 1, sizeof *k->any);
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < lists[l]->n; i++) kcounts_call(k, &lists[l]->v[i], +1);
}

void kcounts_free(KCounts *k) {
    free(k->reads);
    free(k->any);
}

int klist_next_use(const KList *l, int from, int b, unsigned mask) {
    for (int j = from; j < l->n; j++)
        if (kcall_find_buf(&l->v[j], b, mask) >= 0) return j;
    return -1;
}

int klist_sole_reader(const KCounts *k, const KList *l, int i, int b) {
    if (k->reads[b] != 1) return -1;
    return klist_next_use(l, i + 1, b, KIR_READS);
}

int klist_written_between(const KList *l, int i, int j, int b) {
    int w = klist_next_use(l, i + 1, b, KIR_WRITES);
    return w >= 0 && w < j;
}

/* {====================================================================
** Slices and strides
** ===================================================================== */

int kbuf_root(const KProgram *p, int b, int64_t *off) {
    int64_t o = 0;
    while (p->bufs[b].parent >= 0) {
        o += p->bufs[b].slice_off;
        b = p->bufs[b].parent;
    }
    if (off) *off = o;
    return b;
}

int64_t kbuf_stride(const KProgram *p, int b) {
    return p->bufs[kbuf_root(p, b, NULL)].floats;
}

int kbuf_dense(const KProgram *p, int b) {
    int64_t off;
    int r = kbuf_root(p, b, &off);
    return off == 0 && p->bufs[r].floats == p->bufs[b].floats;
}

/* The geometry argument of c, as an index into geoms, or -1. */
static int call_geom(const KCall *c, const KGeom *geoms, int ngeoms) {
    for (int a = 0; a < c->nargs; a++)
        if (c->args[a].kind == ARG_GEOM)
            for (int i = 0; i < ngeoms; i++)
                if (geoms[i].node == c->args[a].ref) return i;
    return -1;
}

/* Checks one call, recording in want[2*g + 0/1] the strides geometry g
** must carry (-1: none yet). */
static int call_layout(const KProgram *p, const KCall *c, const KGeom *geoms, int ngeoms,
                       int64_t *want) {
    const char *lay = kernel_table[c->k].layout;
    int len = (int)strlen(lay), g = call_geom(c, geoms, ngeoms);
    for (int a = 0; a < c->nargs; a++) {
        char role = a < len ? lay[a] : '.';
        int64_t s, *w;
        if (c->args[a].kind != ARG_BUF || p->bufs[c->args[a].ref].region != REGION_BATCH)
            continue;
        if (role == 's') continue;
        if (role == '.' || g < 0) {
            if (!kbuf_dense(p, c->args[a].ref)) return -1;
            continue;
        }
        s = kbuf_stride(p, c->args[a].ref);
        w = &want[2 * g + (role == 'y')];
        if (*w >= 0 && *w != s) return -1;
        *w = s;
    }
    return 0;
}

int kprog_layout(const KProgram *p, KGeom *geoms, int ngeoms, int set) {
    const KList *lists[] = {&p->fwd, &p->loss, &p->bwd};
    int64_t *want = xmalloc((size_t)(2 * ngeoms + 1) * sizeof *want);
    int bad = 0;
    for (int i = 0; i < 2 * ngeoms; i++) want[i] = -1;
    for (int k = 0; k < 3 && !bad; k++)
        for (int i = 0; i < lists[k]->n && !bad; i++)
            bad = call_layout(p, &lists[k]->v[i], geoms, ngeoms, want) < 0;
    if (!bad && set)
        for (int i = 0; i < ngeoms; i++) {
            if (want[2 * i] >= 0) geoms[i].xs = want[2 * i];
            if (want[2 * i + 1] >= 0) geoms[i].ys = want[2 * i + 1];
        }
    free(want);
    return bad ? -1 : 0;
}

/* }==================================================================== */
