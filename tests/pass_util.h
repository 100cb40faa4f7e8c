/*
** pass_util.h: small kernel-call programs built by hand for the passes'
** unit tests.
*/
#ifndef SKIPC_TEST_PASS_UTIL_H
#define SKIPC_TEST_PASS_UTIL_H

#include <string.h>

#include "kir.h"

/* An arena gradient buffer of 8 floats per sample. */
static inline int pu_grad(KProgram *p, const char *name) {
    return kprog_new_buffer(p, BUF_GRAD, name, -1, REGION_BATCH, 8);
}

static inline int pu_value(KProgram *p, const char *name) {
    return kprog_new_buffer(p, BUF_VALUE, name, -1, REGION_BATCH, 8);
}

/* Appends kernel k with arguments args[0, nargs) at step t. */
static inline KCall *pu_call(KList *l, KernelId k, int t, unsigned guard, const KArg *args,
                             int nargs) {
    KCall c;
    memset(&c, 0, sizeof c);
    c.k = k;
    c.t = t;
    c.guard = guard;
    c.nargs = nargs;
    memcpy(c.args, args, (size_t)nargs * sizeof *args);
    return klist_push(l, &c);
}

#define PU_CALL(l, k, t, guard, ...)                                              \
    pu_call(l, k, t, guard, (const KArg[]){__VA_ARGS__},                          \
            (int)(sizeof((const KArg[]){__VA_ARGS__}) / sizeof(KArg)))

/* The clearing autodiff puts before a gradient's first contribution. */
static inline KCall *pu_fill(KList *l, int buf, int t, unsigned guard) {
    return PU_CALL(l, K_FILL, t, guard, karg_buf(buf, ACC_WRITE), karg_len(8), karg_float(0.0f));
}

#endif
