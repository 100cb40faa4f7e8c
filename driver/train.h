/*
** train.h: the training loop of the generic driver.
**
** Recipe (defaults as PyTorch's usual CIFAR-style ResNet recipe): SGD with
** Nesterov momentum 0.9, weight decay 5e-4, lr 0.1 with an optional linear
** warmup of 'warmup' steps then cosine decay to 0 over all remaining steps
** (or x0.1 at 50% and 75% of the steps with schedule "step"), computed per
** step; batch 128; random crop with 2 pixels of black padding and random
** horizontal flips. The last partial batch of each epoch is dropped
** (drop_last=True), so every step sees exactly 'batch' samples and
** batchnorm statistics never come from a tiny batch.
**
** Reproducibility: one xoshiro256** stream, seeded by 'seed', drives the
** per-epoch shuffles and the augmentation; its state is saved with every
** checkpoint, so a resumed run repeats the losses of an uninterrupted one
** bit for bit (with the same number of BLAS threads).
*/
#ifndef SKIPC_TRAIN_H
#define SKIPC_TRAIN_H

#include <stddef.h>

#include "rt_model.h"

/* Where train and eval look for the dataset unless told otherwise. */
#define TRAIN_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
/* Most epochs a run may ask for, from the command line or a checkpoint. */
#define TRAIN_MAX_EPOCHS 1000000

typedef struct {
    /* The recipe. It is stored in every checkpoint, and --resume takes it
    ** from there (these fields are then overwritten), except epochs when
    ** set (> 0), which may extend a finished run. */
    int epochs;                 /* 0: 15, or the checkpoint's */
    int batch;
    const char *optimizer;      /* "sgd" or "adamw" */
    float lr;                   /* < 0: 0.1 for sgd, 1e-3 for adamw */
    float momentum;             /* sgd momentum; adamw beta1 is 0.9 */
    int nesterov;
    float weight_decay;         /* < 0: 5e-4 for sgd, 0.01 for adamw */
    const char *schedule;       /* "cosine" or "step" */
    long warmup;                /* steps of linear warmup */
    int crop_pad, flip;         /* augmentation */
    long seed;
    long limit_train;           /* first N training images (0: all) */
    /* This run only. */
    long limit_test;            /* first N test images (0: all) */
    const char *data_dir;
    const char *out;            /* checkpoint written after every epoch */
    const char *resume;         /* checkpoint to continue from, or NULL */
    const char *log;            /* CSV, or NULL */
    long log_every;             /* also a CSV row every N steps (0: off) */
    int threads;
    int stop_after;             /* end this run after that epoch (0: never),
                                ** as an interruption would */
    int verbose;                /* progress and summaries on stderr/stdout */
    float *loss_trace;          /* if not NULL: the loss of each step of */
    long trace_cap;             /* this run, up to trace_cap entries */
    long raise_sigint_at;       /* tests: raise SIGINT after this run's step N (0: never) */
} TrainConfig;

typedef struct {
    int epoch;                  /* epochs completed */
    long step;                  /* optimizer steps completed, in total */
    long steps_run;             /* steps taken by this run */
    double train_loss, train_acc;       /* last epoch's running means */
    double test_loss, test_acc;         /* after the last epoch */
    double seconds;             /* wall time of this run's epochs */
    int interrupted;            /* stopped by SIGINT, the checkpoint saved mid-epoch */
    long epoch_step;            /* then: steps done in the interrupted epoch */
} TrainResult;

/* Fills cfg with the default recipe (see above) and settings. */
void train_defaults(TrainConfig *cfg);

/* The learning rate of step (0-based) out of 'total' steps. */
float train_lr(const TrainConfig *cfg, long step, long total);

/*
** Trains m as cfg says, saving a checkpoint after every epoch. Returns 0;
** or -1 with a one-line message in err: bad data or checkpoint, or a
** non-finite loss or gradient (the message names the first layer, in
** forward order, with a non-finite gradient; the last checkpoint stays).
** SIGINT (Ctrl-C) finishes the current step and saves a checkpoint that
** resumes exactly there, mid epoch, then returns 0 with res->interrupted
** set; a second SIGINT ends the process at once (checkpoints are written
** atomically, so the last one survives).
*/
int train_run(const RtModel *m, TrainConfig *cfg, TrainResult *res,
              char *err, size_t errlen);

#endif
