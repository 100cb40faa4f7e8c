/*
** rt_par.h: the runtime's internal parallel-for (see rt_par.c).
*/
#ifndef SKIPC_RT_PAR_H
#define SKIPC_RT_PAR_H

/* One part of a region: part t of nt, t in [0, nt). */
typedef void (*RtParFn)(void *arg, int t, int nt);

/* Runs fn(arg, t, nt) for every t in [0, nt), concurrently, and returns when
** all parts are done. Part 0 runs on the caller. nt <= 1 runs inline. */
void rt_par_run(RtParFn fn, void *arg, int nt);

/* [lo, hi) of part t when 'count' items are split into nt contiguous runs */
static inline void rt_par_range(int *lo, int *hi, int count, int t, int nt) {
    *lo = (int)((long long)count * t / nt);
    *hi = (int)((long long)count * (t + 1) / nt);
}

#endif
