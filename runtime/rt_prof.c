/*
** rt_prof.c: where a training step's time goes, block by block of the
** generated code.
**
** Each layer block of a generated forward and backward starts with
** RT_PROF(block). While no profile runs that is one test of a NULL
** pointer; during one, each mark closes the block that was running (its
** time since the previous mark goes to it, in the current phase) and opens
** the next. rt_prof_phase closes the running block and switches between
** forward and backward, or stops timing.
*/
#include <stdlib.h>
#include <time.h>

#include "rt.h"

RtProf *rt_prof;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void close_block(RtProf *p, double t) {
    if (p->cur >= 0 && p->phase >= 0) p->seconds[p->phase * p->nblocks + p->cur] += t - p->last;
    p->last = t;
}

void rt_prof_mark(int block) {
    close_block(rt_prof, now());
    rt_prof->cur = block;
}

void rt_prof_phase(int phase) {
    close_block(rt_prof, now());
    rt_prof->cur = -1;
    rt_prof->phase = phase;
}
