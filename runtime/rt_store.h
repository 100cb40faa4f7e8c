/*
** rt_store.h: the two ways a backward kernel stores an input gradient
** (RtStore in rt.h), as one loop written once.
*/
#ifndef SKIPC_RT_STORE_H
#define SKIPC_RT_STORE_H

#include <stddef.h>

#include "rt.h"

/* dst[i] = expr (RT_SET) or dst[i] += expr (RT_ADD) for i in [lo, hi):
** the test is hoisted out of the loop, so each of the two vectorizes. */
#define RT_STORE_LOOP(st, i, lo, hi, dst, expr)                                 \
    do {                                                                        \
        if ((st) == RT_SET)                                                     \
            for (size_t i = (lo); i < (size_t)(hi); i++) (dst)[i] = (expr);     \
        else                                                                    \
            for (size_t i = (lo); i < (size_t)(hi); i++) (dst)[i] += (expr);    \
    } while (0)

#endif
