/*
** plan.c: buffer liveness and first-fit arena layout.
**
** A buffer lives from the first to the last step whose calls touch it; two
** buffers may share memory only if their lifetimes do not intersect, so no
** kernel ever sees its inputs and outputs overlap. Ties are broken by
** buffer creation order, which makes the layout, like everything else, a
** pure function of the spec. A slice (kir.h) is memory of its root: a call
** touching it keeps the root alive, and only roots are placed.
*/
#include "plan.h"

#include <stdlib.h>

static void touch_list(KProgram *p, const KList *l) {
    for (int i = 0; i < l->n; i++) {
        const KCall *c = &l->v[i];
        for (int a = 0; a < c->nargs; a++) {
            Buffer *b;
            if (c->args[a].kind != ARG_BUF) continue;
            b = &p->bufs[kbuf_root(p, c->args[a].ref, NULL)];
            if (c->t < b->birth) b->birth = c->t;
            if (c->t > b->death) b->death = c->t;
        }
    }
}

static int overlaps(const Buffer *a, const Buffer *b) {
    return a->birth <= b->death && b->birth <= a->death;
}

/*
** First fit in birth order: the lowest offset whose range is free of every
** buffer placed so far that is alive at the same time. Quadratic, but a
** thousand-layer network still plans in milliseconds.
*/
static int64_t place_region(KProgram *p, Region r) {
    int *order = xmalloc((size_t)p->nbufs * sizeof *order), n = 0;
    int64_t top = 0;
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].region == r && p->bufs[i].parent < 0 && p->bufs[i].death >= 0)
            order[n++] = i;
    for (int i = 1; i < n; i++)   /* insertion sort: stable, by birth then id */
        for (int j = i; j > 0 && p->bufs[order[j - 1]].birth > p->bufs[order[j]].birth; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        Buffer *b = &p->bufs[order[i]];
        int64_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                const Buffer *o = &p->bufs[order[j]];
                if (overlaps(b, o) && off < o->offset + o->floats && o->offset < off + b->floats) {
                    off = o->offset + o->floats;
                    moved = 1;
                }
            }
        }
        b->offset = off;
        if (off + b->floats > top) top = off + b->floats;
    }
    free(order);
    return top;
}

static int64_t place_fixed(KProgram *p) {
    int64_t top = 0;
    for (int i = 0; i < p->nbufs; i++) {
        if (p->bufs[i].region != REGION_FIXED) continue;
        p->bufs[i].offset = top;
        top += p->bufs[i].floats;
    }
    return top;
}

int plan_build(Plan *plan, KProgram *p) {
    for (int i = 0; i < p->nbufs; i++) {
        p->bufs[i].birth = INT32_MAX;
        p->bufs[i].death = -1;
        p->bufs[i].offset = 0;
    }
    touch_list(p, &p->fwd);
    touch_list(p, &p->loss);
    touch_list(p, &p->bwd);
    plan->per_sample = place_region(p, REGION_BATCH);
    plan->fixed = place_fixed(p);
    plan->scratch = place_region(p, REGION_SCRATCH);
    for (int i = 0; i < p->nbufs; i++) {   /* a slice lives and lies where its root does */
        Buffer *b = &p->bufs[i];
        const Buffer *r = &p->bufs[kbuf_root(p, i, NULL)];
        b->birth = r->birth;
        b->death = r->death;
        b->offset = r->offset;
    }
    if (plan->per_sample > IR_MAX_ELEMS || plan->fixed > IR_MAX_ELEMS ||
        plan->scratch > IR_MAX_ELEMS) {
        diag_error(p->g->model_loc, "model needs %lld floats of arena per sample, more than %d",
                   (long long)plan->per_sample, IR_MAX_ELEMS);
        return -1;
    }
    return 0;
}
