/*
** pass_inference.c: the inference program, the evaluation-mode forward of
** a training program on its own.
**
** It keeps the forward calls that run in evaluation (G_EVAL ones without
** their guard, none of G_TRAIN) and the buffers they use, renamed with an
** I prefix (IX_conv1, IT_conv1) so both programs' offset tables can live
** in one file. No gradient, statistic or loss is kept, so the memory plan
** lets each activation's memory go as soon as its last reader has run.
*/
#include "passes.h"

#include <stdlib.h>

/* The inference copy of training buffer b, made on first use; a slice's
** copy is a slice of its parent's copy, so both programs lay tensors out
** alike and share the geometry records. */
static int map_buffer(KProgram *inf, const KProgram *train, int *map, int b) {
    const Buffer *src = &train->bufs[b];
    int parent = src->parent >= 0 ? map_buffer(inf, train, map, src->parent) : -1;
    char *name;
    if (map[b] >= 0) return map[b];
    name = src->region == REGION_EXTERNAL ? xstrdup(src->cname) : xasprintf("I%s", src->cname);
    map[b] = kprog_new_buffer(inf, src->kind, name, src->node, src->region, src->floats);
    inf->bufs[map[b]].parent = parent;
    inf->bufs[map[b]].slice_off = src->slice_off;
    free(name);
    return map[b];
}

int pass_inference(KProgram *inf, const KProgram *train) {
    int *map = xmalloc((size_t)(train->nbufs ? train->nbufs : 1) * sizeof *map);
    int pending = OPEN_NONE;     /* a block opened by a dropped training call */
    kprog_init(inf, train->g);
    inf->infer = 1;
    for (int i = 0; i < train->nbufs; i++) map[i] = -1;
    for (int i = 0; i < train->fwd.n; i++) {
        KCall c = train->fwd.v[i];
        if (c.guard & G_TRAIN) {
            if (c.opens != OPEN_NONE) pending = c.opens;
            continue;
        }
        c.guard &= ~(unsigned)G_EVAL;
        if (pending != OPEN_NONE) {
            c.opens = pending;
            pending = OPEN_NONE;
        }
        for (int a = 0; a < c.nargs; a++)
            if (c.args[a].kind == ARG_BUF)
                c.args[a].ref = map_buffer(inf, train, map, c.args[a].ref);
        klist_push(&inf->fwd, &c);
    }
    for (int n = 0; n < train->g->nnodes; n++)
        if (train->val[n] >= 0 && map[train->val[n]] >= 0) inf->val[n] = map[train->val[n]];
    inf->nsteps = train->fwd.n ? train->fwd.v[train->fwd.n - 1].t + 1 : 0;
    free(map);
    return inf->fwd.n;
}
