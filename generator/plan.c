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

/* Birth order, ties by buffer id. */
typedef struct { int birth, id; } Born;

static int by_birth(const void *a, const void *b) {
    const Born *x = a, *y = b;
    return x->birth != y->birth ? (x->birth > y->birth) - (x->birth < y->birth)
                                : (x->id > y->id) - (x->id < y->id);
}

/*
** First fit in birth order: the lowest offset whose range is free of every
** buffer placed so far that is alive at the same time. Placed in birth
** order, a buffer dead before the current birth is dead for every later
** one too, so only the live ones are kept (sorted by offset) and searched:
** a thousand-layer network plans in milliseconds, ten thousand in well
** under a second.
*/
static int64_t place_region(KProgram *p, Region r) {
    Born *born = xmalloc((size_t)p->nbufs * sizeof *born);
    int *order = xmalloc((size_t)p->nbufs * sizeof *order), n = 0;
    int *live = xmalloc((size_t)p->nbufs * sizeof *live), nlive = 0;
    int64_t top = 0;
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].region == r && p->bufs[i].parent < 0 && p->bufs[i].death >= 0) {
            born[n].birth = p->bufs[i].birth;
            born[n++].id = i;
        }
    qsort(born, (size_t)n, sizeof *born, by_birth);
    for (int i = 0; i < n; i++) order[i] = born[i].id;
    free(born);
    for (int i = 0; i < n; i++) {
        Buffer *b = &p->bufs[order[i]];
        int64_t off = 0;
        int k = 0, at;
        for (int j = 0; j < nlive; j++)   /* drop the dead, keep the order */
            if (p->bufs[live[j]].death >= b->birth) live[k++] = live[j];
        nlive = k;
        for (at = 0; at < nlive; at++) {   /* the first gap that fits, by offset */
            const Buffer *o = &p->bufs[live[at]];
            if (o->offset >= off + b->floats) break;
            if (o->offset + o->floats > off) off = o->offset + o->floats;
        }
        b->offset = off;
        if (off + b->floats > top) top = off + b->floats;
        for (at = nlive; at > 0 && p->bufs[live[at - 1]].offset > off; at--) live[at] = live[at - 1];
        live[at] = order[i];
        nlive++;
    }
    free(order);
    free(live);
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
