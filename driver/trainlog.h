/*
** trainlog.h: running training statistics and the --log CSV.
**
** Two accumulators run side by side: one over the epoch, one over the
** steps since the last logged row (--log-every). Each holds the mean
** loss, the accuracy and, per weight tensor (RT_PARAM_WEIGHT, in forward
** order), the mean L2 norm of its gradient: the gradient-flow record.
**
** CSV: epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,
** then grad_norm:<tensor name> per weight. Step rows leave the test
** columns empty and average over the steps since the previous row;
** epoch rows average over the whole epoch.
*/
#ifndef SKIPC_TRAINLOG_H
#define SKIPC_TRAINLOG_H

#include <stdio.h>

#include "metrics.h"
#include "rt_model.h"

typedef struct {
    double loss_sum, *gnorm_sum;
    long correct, count, steps;
} TlogAcc;

typedef struct {
    FILE *f;                    /* NULL: statistics only */
    int nw;                     /* weight tensors */
    int *w;                     /* their indices into RtModel.tensors */
    TlogAcc epoch, since_row;
} TrainLog;

/*
** Prepares the statistics and, if path is not NULL, opens the CSV for
** appending (a resumed run continues the same file) and writes the header
** if the file is empty. Returns 0, or -1 with a message in err.
*/
int tlog_open(TrainLog *l, const RtModel *m, const char *path, char *err, size_t errlen);
void tlog_close(TrainLog *l);

/* Adds one step: sumsq[i] is the squared L2 norm of tensor i's gradient. */
void tlog_step(TrainLog *l, const double *sumsq, float loss, long correct, int n);

/* Clears the epoch accumulator (and the row one) at the start of an epoch. */
void tlog_new_epoch(TrainLog *l);

/* Mean training loss and accuracy so far in the epoch. */
double tlog_epoch_loss(const TrainLog *l);
double tlog_epoch_acc(const TrainLog *l);

/*
** Writes a row: a step row (test == NULL) from the since-last-row
** accumulator, or an epoch row from the epoch one. Clears the row
** accumulator. Does nothing without a file.
*/
void tlog_row(TrainLog *l, int epoch, long step, float lr, const MetCounts *test,
              double seconds);

#endif
