/*
** pass_add_alias.c: an add's inputs share its output gradient.
**
** The backward of y = a + b gives a and b each a copy of dy; after
** write-first these are rt_copy calls into buffers nobody touched before.
** Where legal, the copy goes and its destination becomes the source buffer
** itself: every later call names dy's buffer instead. Legal when nothing
** writes the destination (now shared memory) before the last read of the
** source, and nothing writes the source after the copy: then no call can
** see a value the sharing changed.
*/
#include "passes.h"

/* A whole-buffer copy of one arena gradient into another of the same size. */
static int is_grad_copy(const KProgram *p, const KCall *c) {
    const Buffer *dst, *src;
    if (c->k != K_COPY || c->args[0].off || c->args[1].off) return 0;
    dst = &p->bufs[c->args[0].ref];
    src = &p->bufs[c->args[1].ref];
    return dst != src && dst->kind == BUF_GRAD && src->kind == BUF_GRAD &&
           dst->region == REGION_BATCH && src->region == REGION_BATCH &&
           dst->floats == src->floats;
}

/* Whether copy i of list l (dst <- src) can become dst = src. */
static int can_share(const KList *l, int i, int dst, int src) {
    int last_read = -1, first_write = l->n;
    int w = klist_next_use(l, i + 1, dst, KIR_WRITES);
    if (klist_next_use(l, 0, dst, KIR_ANY) != i) return 0;   /* the copy must be its first use */
    if (klist_next_use(l, i + 1, src, KIR_WRITES) >= 0) return 0;
    for (int j = i + 1; j < l->n; j++)
        if (kcall_find_buf(&l->v[j], src, KIR_READS) >= 0) last_read = j;
    if (w >= 0) first_write = w;
    return first_write > last_read;
}

static void rename_after(KList *l, int i, int from, int to) {
    for (int j = i + 1; j < l->n; j++)
        for (int a = 0; a < l->v[j].nargs; a++)
            if (l->v[j].args[a].kind == ARG_BUF && l->v[j].args[a].ref == from)
                l->v[j].args[a].ref = to;
}

int pass_add_alias(KProgram *p) {
    KList *l = &p->bwd;
    int shared = 0;
    for (int i = 0; i < l->n;) {
        const KCall *c = &l->v[i];
        int dst, src;
        if (!is_grad_copy(p, c)) { i++; continue; }
        dst = c->args[0].ref;
        src = c->args[1].ref;
        if (!can_share(l, i, dst, src)) { i++; continue; }
        rename_after(l, i, dst, src);
        klist_drop(l, i);
        shared++;
    }
    return shared;
}
