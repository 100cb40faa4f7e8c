/*
** pass_write_first.c: backward without clearing gradients.
**
** Autodiff clears each gradient buffer when it comes to life, because every
** contribution accumulates. The first contribution can write instead, when
** its kernel can store either way (kernel_table[].store) or has a writing
** twin (kernel_table[].set, rt_acc -> rt_copy), writes the whole buffer,
** and runs whenever the clearing would have. Then the clearing goes.
*/
#include "passes.h"

#include <stdlib.h>

/* Whether c runs (for buffer argument a) only under a condition that the
** clearing, with guard g, did not have. */
static int gated_more(const KCall *c, int a, unsigned g) {
    int gated = (c->guard & G_DX) || c->args[a].if_dx;
    return gated && !(g & G_DX);
}

/* Turns argument a of c from accumulating into writing; 0 if it cannot. */
static int make_write(KCall *c, int a) {
    const KernelInfo *k = &kernel_table[c->k];
    if (c->args[a].off != 0) return 0;
    if (k->store == a) {
        c->args[a].access = ACC_WRITE;
        return 1;
    }
    if (k->set != K_NONE && a == 0) {
        c->k = k->set;
        c->args[a].access = ACC_WRITE;
        return 1;
    }
    return 0;
}

int pass_write_first(KProgram *p) {
    KList *l = &p->bwd;
    char *drop = xcalloc((size_t)l->n + 1, 1);
    int removed = 0;
    for (int i = 0; i < l->n; i++) {
        const KCall *fill = &l->v[i];
        int b, j, a;
        if (fill->k != K_FILL || fill->args[2].f != 0.0f) continue;
        b = fill->args[0].ref;
        j = klist_next_use(l, i + 1, b, KIR_ANY);
        a = j < 0 ? -1 : kcall_find_buf(&l->v[j], b, 1u << ACC_ACCUM);
        if (a < 0 || kcall_count_buf(&l->v[j], b, KIR_ANY) != 1 || gated_more(&l->v[j], a, fill->guard) ||
            !make_write(&l->v[j], a))
            continue;
        /* The clearing may have opened its block (the loss): the next call does now. */
        if (fill->opens != OPEN_NONE && l->v[i + 1].opens == OPEN_NONE)
            l->v[i + 1].opens = fill->opens;
        drop[i] = 1;
        removed++;
    }
    klist_compact(l, drop);
    free(drop);
    return removed;
}
