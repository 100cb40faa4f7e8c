/*
** trainlog.c: epoch and per-row training statistics, CSV output.
*/
#include "trainlog.h"
#include "drv_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weight tensors sorted by layer (forward order), stable. */
static int pick_weights(TrainLog *l, const RtModel *m) {
    l->w = malloc(((size_t)m->num_tensors + 1) * sizeof *l->w);
    if (!l->w) return -1;
    for (int layer = -1, done = 0; !done; ) {   /* next smallest layer each pass */
        int next = -1;
        for (int i = 0; i < m->num_tensors; i++) {
            int ly = m->tensors[i].layer;
            if (m->tensors[i].kind == RT_PARAM_WEIGHT && ly > layer && (next < 0 || ly < next))
                next = ly;
        }
        if (next < 0) { done = 1; continue; }
        for (int i = 0; i < m->num_tensors; i++)
            if (m->tensors[i].kind == RT_PARAM_WEIGHT && m->tensors[i].layer == next)
                l->w[l->nw++] = i;
        layer = next;
    }
    return 0;
}

static void acc_clear(TlogAcc *a, int nw) {
    double *g = a->gnorm_sum;
    memset(a, 0, sizeof *a);
    a->gnorm_sum = g;
    memset(g, 0, (size_t)nw * sizeof *g);
}

static void write_header(TrainLog *l, const RtModel *m) {
    fputs("epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds", l->f);
    for (int i = 0; i < l->nw; i++) fprintf(l->f, ",grad_norm:%s", m->tensors[l->w[i]].name);
    fputc('\n', l->f);
    fflush(l->f);
}

int tlog_open(TrainLog *l, const RtModel *m, const char *path, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    size_t nw = (size_t)m->num_tensors + 1;
    l->epoch.gnorm_sum = calloc(nw, sizeof(double));
    l->since_row.gnorm_sum = calloc(nw, sizeof(double));
    if (!l->epoch.gnorm_sum || !l->since_row.gnorm_sum || pick_weights(l, m)) {
        tlog_close(l);
        return drv_err(err, errlen, "out of memory");
    }
    if (!path) return 0;
    l->f = fopen(path, "a");
    if (!l->f) {
        tlog_close(l);
        return drv_err(err, errlen, "%s: cannot open log: %s", path, strerror(errno));
    }
    if (ftell(l->f) == 0) write_header(l, m);
    return 0;
}

void tlog_close(TrainLog *l) {
    if (l->f) fclose(l->f);
    free(l->w);
    free(l->epoch.gnorm_sum);
    free(l->since_row.gnorm_sum);
    memset(l, 0, sizeof *l);
}

static void acc_add(TlogAcc *a, const TrainLog *l, const double *sumsq, float loss,
                    long correct, int n) {
    a->loss_sum += loss;
    a->correct += correct;
    a->count += n;
    a->steps++;
    for (int i = 0; i < l->nw; i++) a->gnorm_sum[i] += sqrt(sumsq[l->w[i]]);
}

void tlog_step(TrainLog *l, const double *sumsq, float loss, long correct, int n) {
    acc_add(&l->epoch, l, sumsq, loss, correct, n);
    acc_add(&l->since_row, l, sumsq, loss, correct, n);
}

void tlog_new_epoch(TrainLog *l) {
    acc_clear(&l->epoch, l->nw);
    acc_clear(&l->since_row, l->nw);
}

double tlog_epoch_loss(const TrainLog *l) {
    return l->epoch.steps ? l->epoch.loss_sum / (double)l->epoch.steps : 0.0;
}

double tlog_epoch_acc(const TrainLog *l) {
    return l->epoch.count ? (double)l->epoch.correct / (double)l->epoch.count : 0.0;
}

void tlog_row(TrainLog *l, int epoch, long step, float lr, const MetCounts *test,
              double seconds) {
    const TlogAcc *a = test ? &l->epoch : &l->since_row;
    if (l->f && a->steps > 0) {
        double steps = (double)a->steps;
        fprintf(l->f, "%d,%ld,%.9g,%.6f,%.6f,", epoch, step, lr, a->loss_sum / steps,
                (double)a->correct / (double)a->count);
        if (test && test->count)
            fprintf(l->f, "%.6f,%.6f,", test->loss_sum / (double)test->count,
                    (double)test->correct / (double)test->count);
        else
            fputs(",,", l->f);
        fprintf(l->f, "%.3f", seconds);
        for (int i = 0; i < l->nw; i++) fprintf(l->f, ",%.6g", a->gnorm_sum[i] / steps);
        fputc('\n', l->f);
        fflush(l->f);
    }
    acc_clear(&l->since_row, l->nw);
}
