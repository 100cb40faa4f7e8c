/*
** progress.c: a single updating line on a terminal, periodic lines elsewhere.
*/
#include "progress.h"
#include "drv_util.h"

#include <stdio.h>
#include <unistd.h>

void prog_begin(Progress *p, int enabled, int epoch, int epochs, long steps, int batch) {
    p->enabled = enabled;
    p->tty = isatty(2);
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps;
    p->batch = batch;
    p->next_mark = (steps + 9) / 10;
    p->t0 = drv_now();
    p->last = 0.0;
}

/* Formats seconds as m:ss. */
static void clock_text(char *buf, size_t len, double s) {
    long t = s > 0 && s < 1e7 ? (long)(s + 0.5) : 0;
    snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void prog_step(Progress *p, long step, double loss, double acc) {
    if (!p->enabled) return;
    double now = drv_now(), dt = now - p->t0;
    if (step < p->steps && (p->tty ? now - p->last < 0.1 : step < p->next_mark)) return;
    p->last = now;
    while (p->next_mark <= step) p->next_mark += (p->steps + 9) / 10;
    double ips = dt > 0 ? (double)step * p->batch / dt : 0.0;
    char eta[32];
    clock_text(eta, sizeof eta, step > 0 ? dt * (double)(p->steps - step) / (double)step : 0);
    fprintf(stderr, "%sepoch %d/%d  step %ld/%ld  loss %.4f  acc %5.2f%%  %.0f img/s  ETA %s%s",
            p->tty ? "\r\033[K" : "", p->epoch, p->epochs, step, p->steps, loss,
            100.0 * acc, ips, eta, p->tty ? "" : "\n");
    fflush(stderr);
}

void prog_end(Progress *p) {
    if (p->enabled && p->tty) fputs("\r\033[K", stderr);
}
