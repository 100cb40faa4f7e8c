/*
** pass_concat.c: concatenation without copies.
**
** y = concat{a, b} copies a and b into their channels of y, and backward
** copies dy's channels back out. Instead, a becomes a slice of y (kir.h):
** its producer writes straight into a's channels of y, its readers read
** them there, and da becomes the same slice of dy, so the copies go. A
** dense block's chain of concatenations nests: every layer's output ends
** up in its channels of the block's last concatenation, one buffer.
**
** Legal for input a when:
**   - a is an arena tensor of its own, used once by this concat, and no
**     other concat (each would want it in its own channels);
**   - every call touching a, da or any tensor laid out inside them finds
**     its tensors where it looks (kprog_layout: only kernels taking a
**     sample stride see a slice, and calls sharing a geometry agree);
**   - the concat's backward is the first to touch da, and writes it: the
**     other contributions to da come later, and now add to dy's channels,
**     which already hold that first contribution;
**   - nothing touches dy after the concat's backward step: from then on
**     its memory is da's.
** The layout is checked with the change made; a change that fails is
** undone. A concat left with no calls keeps a note in its place, so the
** generated code still shows the layer.
*/
#include "passes.h"

#include <string.h>

/* The backward call of list l giving concat node the channels at c_off. */
static int backward_of(const KList *l, int node, int64_t c_off) {
    for (int j = 0; j < l->n; j++)
        if (l->v[j].k == K_CONCAT_BACKWARD && l->v[j].node == node && l->v[j].args[4].i == c_off)
            return j;
    return -1;
}

/* Whether any call of l after step t touches b. */
static int touched_after(const KList *l, int t, int b) {
    for (int j = 0; j < l->n; j++)
        if (l->v[j].t > t && kcall_find_buf(&l->v[j], b, KIR_ANY) >= 0) return 1;
    return 0;
}

/* Whether b can become a slice of a buffer of floats per sample. */
static int free_tensor(const KProgram *p, int b, int64_t floats) {
    const Buffer *x = &p->bufs[b];
    return x->region == REGION_BATCH && x->parent < 0 && x->floats == floats;
}

/* The gradient side of input a: da = dy's slice, if legal; j is the
** backward call, -1 if there is none (no gradient flows). */
static int gradient_legal(const KProgram *p, int j, int64_t floats) {
    const KCall *c;
    int da, dy;
    if (j < 0) return 1;
    c = &p->bwd.v[j];
    da = c->args[0].ref;
    dy = c->args[1].ref;
    return da != dy && free_tensor(p, da, floats) && c->args[0].access == ACC_WRITE &&
           klist_next_use(&p->bwd, 0, da, KIR_ANY) == j && !touched_after(&p->bwd, c->t, dy);
}

static void make_slice(KProgram *p, int b, int parent, int64_t off) {
    p->bufs[b].parent = parent;
    p->bufs[b].slice_off = off;
}

/* Removes call i of l; a layer left without a block gets a note. */
static void remove_call(KList *l, int i) {
    KCall note = l->v[i];
    if (!klist_drop(l, i)) return;
    memset(&note.args, 0, sizeof note.args);
    note.k = K_IN_PLACE;
    note.nargs = 0;
    note.guard = 0;
    klist_insert(l, i, &note);
}

/* Tries to write input i of list position f in place; returns 1 if done. */
static int in_place(KProgram *p, int f) {
    KCall fc = p->fwd.v[f];
    int y = fc.args[0].ref, a = fc.args[1].ref;
    int64_t hw = fc.args[6].i, off = fc.args[4].i * hw, floats = fc.args[5].i * hw;
    int j = backward_of(&p->bwd, fc.node, fc.args[4].i);
    int da = j >= 0 ? p->bwd.v[j].args[0].ref : -1, bn = j >= 0 ? p->bwd.v[j].nargs : 0, ok;
    if (a == y || !free_tensor(p, a, floats) || !gradient_legal(p, j, floats)) return 0;
    /* Tried with the slices made and the copies switched off (no arguments). */
    make_slice(p, a, y, off);
    p->fwd.v[f].nargs = 0;
    if (j >= 0) {
        make_slice(p, da, p->bwd.v[j].args[1].ref, off);
        p->bwd.v[j].nargs = 0;
    }
    ok = kprog_layout(p, p->geoms, p->ngeoms, 0) == 0;
    p->fwd.v[f].nargs = fc.nargs;
    if (j >= 0) p->bwd.v[j].nargs = bn;
    if (!ok) {
        make_slice(p, a, -1, 0);
        if (j >= 0) make_slice(p, da, -1, 0);
        return 0;
    }
    if (j >= 0) remove_call(&p->bwd, j);
    remove_call(&p->fwd, f);
    return 1;
}

int pass_concat(KProgram *p) {
    int done = 0;
    for (int f = 0; f < p->fwd.n; f++) {
        if (p->fwd.v[f].k != K_CONCAT_FORWARD || !in_place(p, f)) continue;
        done++;
        f--;   /* the call now at f, if any, has not been looked at */
    }
    kprog_layout(p, p->geoms, p->ngeoms, 1);
    return done;
}
