/*
** plan.h: the static memory plan. Every activation, gradient and scratch
** buffer of a kernel-call program gets a fixed offset in one arena, decided
** from liveness over the calls of the whole forward + loss + backward
** timeline.
*/
#ifndef SKIPC_PLAN_H
#define SKIPC_PLAN_H

#include "kir.h"

typedef struct {
    /* arena floats = per_sample * n + fixed + scratch * rt_scratch_slices(n) */
    int64_t per_sample, fixed, scratch;
} Plan;

/* Sets every buffer's birth, death and offset; -1 (with a diagnostic) if
** the arena would not fit the generated code's int offsets. */
int plan_build(Plan *plan, KProgram *p);

#endif
