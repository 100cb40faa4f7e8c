/*
** train.c: the training loop: data, schedule, optimizer steps, checks for
** non-finite values, per-epoch evaluation, logging and checkpoints.
*/
#include "train.h"
#include "ckpt.h"
#include "data.h"
#include "drv_util.h"
#include "metrics.h"
#include "progress.h"
#include "rt.h"
#include "trainlog.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f
#define DEFAULT_EPOCHS 15

/* Everything one training run owns; freed by trainer_free. */
typedef struct {
    const RtModel *m;
    TrainConfig *cfg;
    IdxDataset train, test;
    float mean, std;                /* input normalisation */
    float *params, *grads, *state[CKPT_MAX_SLOTS], *arena, *xb;
    int32_t *yb;
    int *perm;
    double *sumsq;                  /* per tensor: squared gradient norm */
    RtRng rng;
    RtRng rng_epoch;                /* the RNG as the current epoch began (before its shuffle) */
    DataAug aug;
    int epoch;                      /* epochs completed */
    long epoch_step;                /* steps done in the current epoch */
    long step, steps_per_epoch, total_steps;
    int saved_epoch;                /* epoch of the last checkpoint, -1 none */
    MetCounts test_counts;
    TrainLog log;
    double t_start;
} Trainer;

void train_defaults(TrainConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 128;
    cfg->optimizer = "sgd";
    cfg->lr = -1.0f;
    cfg->momentum = 0.9f;
    cfg->nesterov = 1;
    cfg->weight_decay = -1.0f;
    cfg->schedule = "cosine";
    cfg->crop_pad = 2;
    cfg->flip = 1;
    cfg->seed = 1;
    cfg->data_dir = TRAIN_DEFAULT_DATA;
    cfg->threads = 2;
    cfg->verbose = 1;
}

float train_lr(const TrainConfig *cfg, long step, long total) {
    double lr = cfg->lr;
    if (step < cfg->warmup) return (float)(lr * (double)(step + 1) / (double)cfg->warmup);
    double span = (double)(total - cfg->warmup);
    double t = span > 0 ? (double)(step - cfg->warmup) / span : 0.0;
    if (!strcmp(cfg->schedule, "step"))
        return (float)(lr * (t >= 0.75 ? 0.01 : t >= 0.5 ? 0.1 : 1.0));
    return (float)(lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t)));
}

/* {====================================================================
** Setup: recipe, checkpoint to resume, data, buffers
** ===================================================================== */

/* Canonical names, so cfg never points into freed metadata. */
static const char *canonical(const char *s, const char *a, const char *b) {
    return !s ? NULL : !strcmp(s, a) ? a : !strcmp(s, b) ? b : NULL;
}

static int check_recipe(TrainConfig *c, char *err, size_t errlen) {
    const char *opt = canonical(c->optimizer, "sgd", "adamw");
    const char *sch = canonical(c->schedule, "cosine", "step");
    if (!opt) return drv_err(err, errlen, "unknown optimizer '%s' (sgd or adamw)", c->optimizer);
    if (!sch) return drv_err(err, errlen, "unknown schedule '%s' (cosine or step)", c->schedule);
    c->optimizer = opt;
    c->schedule = sch;
    int adam = !strcmp(opt, "adamw");
    if (c->lr < 0) c->lr = adam ? 1e-3f : 0.1f;
    if (c->weight_decay < 0) c->weight_decay = adam ? 0.01f : 5e-4f;
    if (c->epochs <= 0) c->epochs = DEFAULT_EPOCHS;
    if (c->batch <= 0) return drv_err(err, errlen, "batch must be positive, got %d", c->batch);
    if (c->warmup < 0 || c->crop_pad < 0 || c->threads <= 0)
        return drv_err(err, errlen, "warmup, crop padding must be >= 0, threads > 0");
    return 0;
}

/* Stores the position, recipe, normalisation and RNG state in meta. */
static int recipe_to_meta(const Trainer *t, StMeta *meta) {
    const TrainConfig *c = t->cfg;
    const uint64_t *s = t->rng.s;
    int rc = st_meta_set(meta, "format", "skipc-train-1") | st_meta_set(meta, "model", t->m->name)
        | ckpt_meta_setf(meta, "epoch", "%d", t->epoch) | ckpt_meta_setf(meta, "step", "%ld", t->step)
        | ckpt_meta_setf(meta, "epochs", "%d", c->epochs) | ckpt_meta_setf(meta, "batch", "%d", c->batch)
        | st_meta_set(meta, "optimizer", c->optimizer) | ckpt_meta_setf(meta, "lr", "%.9g", c->lr)
        | ckpt_meta_setf(meta, "momentum", "%.9g", c->momentum)
        | ckpt_meta_setf(meta, "nesterov", "%d", c->nesterov)
        | ckpt_meta_setf(meta, "weight_decay", "%.9g", c->weight_decay)
        | st_meta_set(meta, "schedule", c->schedule) | ckpt_meta_setf(meta, "warmup", "%ld", c->warmup)
        | ckpt_meta_setf(meta, "crop_pad", "%d", c->crop_pad) | ckpt_meta_setf(meta, "flip", "%d", c->flip)
        | ckpt_meta_setf(meta, "seed", "%ld", c->seed)
        | ckpt_meta_setf(meta, "limit_train", "%ld", c->limit_train)
        | ckpt_meta_setf(meta, "norm_mean", "%.9g", t->mean)
        | ckpt_meta_setf(meta, "norm_std", "%.9g", t->std)
        | ckpt_meta_setf(meta, "rng", "%016llx%016llx%016llx%016llx", (unsigned long long)s[0],
                         (unsigned long long)s[1], (unsigned long long)s[2], (unsigned long long)s[3]);
    if (t->epoch_step > 0) {   /* saved mid epoch: where, and the epoch's shuffle */
        const uint64_t *e = t->rng_epoch.s;
        rc |= ckpt_meta_setf(meta, "epoch_step", "%ld", t->epoch_step)
            | ckpt_meta_setf(meta, "rng_epoch", "%016llx%016llx%016llx%016llx",
                             (unsigned long long)e[0], (unsigned long long)e[1],
                             (unsigned long long)e[2], (unsigned long long)e[3]);
    }
    return rc ? -1 : 0;
}

/* The 256-bit RNG state under key, from 64 hex digits. */
static int rng_from_meta(RtRng *r, const StMeta *meta, const char *key, const char *path,
                         char *err, size_t errlen) {
    const char *v = st_meta_get(meta, key);
    if (!v || strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
        return drv_err(err, errlen, "%s: metadata '%s' is missing or malformed", path, key);
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, v + 16 * i, 16);
        part[16] = 0;
        r->s[i] = (uint64_t)strtoull(part, NULL, 16);
    }
    return 0;
}

/* Integer fields of the recipe, read from the checkpoint. */
static int ints_from_meta(Trainer *t, const StMeta *meta, const char *p, char *err, size_t errlen) {
    TrainConfig *c = t->cfg;
    long epoch, epochs, batch, nesterov, crop, flip;
    if (ckpt_meta_long(meta, "epoch", &epoch, p, err, errlen)
        || ckpt_meta_long(meta, "step", &t->step, p, err, errlen)
        || ckpt_meta_long(meta, "epochs", &epochs, p, err, errlen)
        || ckpt_meta_long(meta, "batch", &batch, p, err, errlen)
        || ckpt_meta_long(meta, "nesterov", &nesterov, p, err, errlen)
        || ckpt_meta_long(meta, "warmup", &c->warmup, p, err, errlen)
        || ckpt_meta_long(meta, "crop_pad", &crop, p, err, errlen)
        || ckpt_meta_long(meta, "flip", &flip, p, err, errlen)
        || ckpt_meta_long(meta, "seed", &c->seed, p, err, errlen)
        || ckpt_meta_long(meta, "limit_train", &c->limit_train, p, err, errlen))
        return -1;
    if (epoch < 0 || epochs < 1 || epochs > TRAIN_MAX_EPOCHS || epoch > epochs || t->step < 0 ||
        batch < 1 || batch > (1 << 20) || crop < 0 || crop > 64 || c->warmup < 0 ||
        c->limit_train < 0)
        return drv_err(err, errlen, "%s: metadata has out-of-range training values", p);
    t->epoch = (int)epoch;
    if (c->epochs <= 0) c->epochs = (int)epochs;
    c->batch = (int)batch;
    c->nesterov = nesterov != 0;
    c->crop_pad = (int)crop;
    c->flip = flip != 0;
    return 0;
}

/* Takes the recipe and position from a training checkpoint's metadata. */
static int recipe_from_meta(Trainer *t, const StMeta *meta, char *err, size_t errlen) {
    TrainConfig *c = t->cfg;
    const char *p = c->resume;
    c->optimizer = canonical(st_meta_get(meta, "optimizer"), "sgd", "adamw");
    c->schedule = canonical(st_meta_get(meta, "schedule"), "cosine", "step");
    if (!c->optimizer || !c->schedule)
        return drv_err(err, errlen, "%s: not a training checkpoint (optimizer or "
                       "schedule metadata missing)", p);
    if (ints_from_meta(t, meta, p, err, errlen)
        || ckpt_meta_float(meta, "lr", &c->lr, p, err, errlen)
        || ckpt_meta_float(meta, "momentum", &c->momentum, p, err, errlen)
        || ckpt_meta_float(meta, "weight_decay", &c->weight_decay, p, err, errlen)
        || ckpt_meta_float(meta, "norm_mean", &t->mean, p, err, errlen)
        || ckpt_meta_float(meta, "norm_std", &t->std, p, err, errlen))
        return -1;
    if (!(t->std > 0)) return drv_err(err, errlen, "%s: metadata norm_std must be positive", p);
    t->epoch_step = 0;
    if (st_meta_get(meta, "epoch_step")) {   /* saved mid epoch (interrupted) */
        if (ckpt_meta_long(meta, "epoch_step", &t->epoch_step, p, err, errlen)
            || rng_from_meta(&t->rng_epoch, meta, "rng_epoch", p, err, errlen))
            return -1;
        if (t->epoch_step < 0 || t->epoch_step > t->step)
            return drv_err(err, errlen, "%s: metadata has out-of-range training values", p);
    }
    return rng_from_meta(&t->rng, meta, "rng", p, err, errlen);
}

/* Loads parameters, recipe and optimizer state from cfg->resume. */
static int load_resume(Trainer *t, char *err, size_t errlen) {
    StMeta meta;
    st_meta_init(&meta);
    int rc = ckpt_load(t->cfg->resume, t->m, t->params, &meta, err, errlen);
    if (rc == 0) rc = recipe_from_meta(t, &meta, err, errlen);
    st_meta_free(&meta);
    return rc;
}

/* Loads and normalises the data; fresh runs take mean/std from the
** training images, resumed ones reuse the checkpoint's. */
static int load_data(Trainer *t, int fresh, char *err, size_t errlen) {
    const RtModel *m = t->m;
    TrainConfig *c = t->cfg;
    char what[1100];
    snprintf(what, sizeof what, "%s/train-images-idx3-ubyte", c->data_dir);
    if (m->loss_kind != RT_LOSS_CROSS_ENTROPY || m->out_ndim != 1)
        return drv_err(err, errlen, "model %s is not a classifier; train needs "
                       "one label per image", m->name);
    if (data_load_split(&t->train, c->data_dir, "train", c->limit_train, m, err, errlen)
        || data_load_split(&t->test, c->data_dir, "t10k", c->limit_test, m, err, errlen))
        return -1;
    const IdxDataset *d = &t->train;
    if (data_check_model(m, d->c, d->h, d->w, what, err, errlen)) return -1;
    if (t->test.h != d->h || t->test.w != d->w)
        return drv_err(err, errlen, "%s/t10k-images-idx3-ubyte: images are %dx%d, training "
                       "images %dx%d", c->data_dir, t->test.h, t->test.w, d->h, d->w);
    size_t sample = (size_t)d->c * d->h * d->w;
    if (fresh) data_stats(d->x, (size_t)d->n * sample, &t->mean, &t->std);
    data_normalise(t->train.x, (size_t)d->n * sample, t->mean, t->std);
    data_normalise(t->test.x, (size_t)t->test.n * sample, t->mean, t->std);
    t->steps_per_epoch = d->n / c->batch;
    if (t->steps_per_epoch == 0)
        return drv_err(err, errlen, "%s: %d training images, fewer than one batch of %d",
                       what, d->n, c->batch);
    t->total_steps = t->steps_per_epoch * c->epochs;
    return 0;
}

/* Every buffer the loop needs, so that the steps themselves never allocate. */
static int alloc_buffers(Trainer *t, char *err, size_t errlen) {
    const RtModel *m = t->m;
    int b = t->cfg->batch, slots = ckpt_slots(t->cfg->optimizer);
    size_t sample = (size_t)t->train.c * t->train.h * t->train.w;
    if (!(t->grads = drv_floats(m->num_trainable, err, errlen))
        || !(t->arena = drv_floats(RT_BOTH_ARENA_FLOATS(m, b), err, errlen))
        || !(t->xb = drv_floats(sample * (size_t)b, err, errlen)))
        return -1;
    for (int s = 0; s < slots; s++)
        if (!(t->state[s] = drv_floats(m->num_trainable, err, errlen))) return -1;
    t->yb = calloc((size_t)b, sizeof *t->yb);
    t->perm = calloc((size_t)t->train.n, sizeof *t->perm);
    t->sumsq = calloc((size_t)m->num_tensors, sizeof *t->sumsq);
    if (!t->yb || !t->perm || !t->sumsq || met_init(&t->test_counts, m->out_shape[0]))
        return drv_err(err, errlen, "out of memory");
    return 0;
}

static void trainer_free(Trainer *t) {
    idx_dataset_free(&t->train);
    idx_dataset_free(&t->test);
    free(t->params);
    free(t->grads);
    for (int s = 0; s < CKPT_MAX_SLOTS; s++) free(t->state[s]);
    free(t->arena);
    free(t->xb);
    free(t->yb);
    free(t->perm);
    free(t->sumsq);
    met_free(&t->test_counts);
    tlog_close(&t->log);
}

/*
** Brings t to the start of its first epoch: parameters initialised or
** loaded, recipe checked, data loaded, buffers and log ready.
*/
static int setup(Trainer *t, char *err, size_t errlen) {
    TrainConfig *c = t->cfg;
    const RtModel *m = t->m;
    drv_set_threads(c->threads);
    if (!(t->params = drv_floats(m->num_params, err, errlen))) return -1;
    if (c->resume && load_resume(t, err, errlen)) return -1;
    if (check_recipe(c, err, errlen) || load_data(t, !c->resume, err, errlen)
        || alloc_buffers(t, err, errlen))
        return -1;
    if (c->resume) {
        if (ckpt_load_optim(c->resume, m, c->optimizer, t->state, err, errlen)) return -1;
    } else {
        m->init(t->params, (uint64_t)c->seed);
        rt_rng_seed(&t->rng, (uint64_t)c->seed);
    }
    t->aug = (DataAug){c->crop_pad, c->flip, -t->mean / t->std};
    t->saved_epoch = c->resume ? t->epoch : -1;
    /* a full disk or an unwritable --out shows now, not after the first epoch */
    if (ckpt_probe(c->out, sizeof(float) * (m->num_params + (size_t)ckpt_slots(c->optimizer) *
                                             m->num_trainable) + 65536, err, errlen))
        return -1;
    return tlog_open(&t->log, m, c->log, err, errlen);
}

/* }==================================================================== */

/* {====================================================================
** The loop
** ===================================================================== */

/* Squared gradient norm of every trainable tensor into t->sumsq; also the
** non-finite check, since one non-finite element makes the sum non-finite. */
static void grad_sumsq(Trainer *t) {
    for (int i = 0; i < t->m->num_tensors; i++) {
        const RtParamInfo *p = &t->m->tensors[i];
        t->sumsq[i] = ckpt_trainable(p) ? rt_sumsq(t->grads + p->offset, p->len) : 0.0;
    }
}

/* The trainable tensor with a non-finite gradient in the earliest layer
** (forward order), or -1. */
static int first_bad_tensor(const Trainer *t) {
    int best = -1;
    for (int i = 0; i < t->m->num_tensors; i++)
        if (!isfinite(t->sumsq[i]) && (best < 0 || t->m->tensors[i].layer < t->m->tensors[best].layer))
            best = i;
    return best;
}

/* Explains a non-finite loss or gradient: where, and what was kept. */
static int report_nonfinite(const Trainer *t, float loss, int bad, char *err, size_t errlen) {
    char kept[1200];
    if (t->saved_epoch > 0)
        snprintf(kept, sizeof kept, "last good checkpoint: %s (epoch %d)", t->cfg->out, t->saved_epoch);
    else
        snprintf(kept, sizeof kept, "no checkpoint was written");
    if (bad < 0)
        return drv_err(err, errlen, "epoch %d step %ld: non-finite loss (%g), gradients "
                       "finite; stopped, %s", t->epoch + 1, t->step + 1, loss, kept);
    const RtParamInfo *p = &t->m->tensors[bad];
    return drv_err(err, errlen, "epoch %d step %ld: non-finite gradient (loss %g), first in "
                   "layer %s (%s); stopped, %s", t->epoch + 1, t->step + 1, loss,
                   t->m->layers[p->layer].name, p->name, kept);
}

static long count_correct(const float *out, const int32_t *y, int n, int k) {
    long c = 0;
    for (int i = 0; i < n; i++) c += met_argmax(out + (size_t)i * k, k) == y[i];
    return c;
}

static void optimizer_step(Trainer *t, float lr) {
    const TrainConfig *c = t->cfg;
    if (!strcmp(c->optimizer, "adamw"))
        t->m->adamw_step(t->params, t->grads, t->state[0], t->state[1], t->step + 1, lr,
                         ADAM_BETA1, ADAM_BETA2, ADAM_EPS, c->weight_decay);
    else
        t->m->sgd_step(t->params, t->grads, t->state[0], lr, c->momentum, c->weight_decay,
                       c->nesterov);
}

/* Step i (0-based) of the epoch: batch, forward, backward, checks, update. */
static int train_step(Trainer *t, long i, long run_steps, char *err, size_t errlen) {
    const RtModel *m = t->m;
    int b = t->cfg->batch;
    data_batch(t->xb, t->yb, &t->train, t->perm + i * b, b, &t->aug, &t->rng);
    m->zero_grad(t->grads);
    const float *out = m->forward(t->params, t->arena, t->xb, b, 1, NULL);
    float loss = m->loss(out, t->yb, b);
    long correct = count_correct(out, t->yb, b, m->out_shape[0]);  /* backward reuses out */
    m->backward(t->params, t->grads, t->arena, t->xb, t->yb, NULL, b, NULL);
    grad_sumsq(t);
    int bad = first_bad_tensor(t);
    if (bad >= 0 || !isfinite(loss)) return report_nonfinite(t, loss, bad, err, errlen);
    tlog_step(&t->log, t->sumsq, loss, correct, b);
    optimizer_step(t, train_lr(t->cfg, t->step, t->total_steps));
    t->step++;
    if (t->cfg->loss_trace && run_steps < t->cfg->trace_cap) t->cfg->loss_trace[run_steps] = loss;
    long every = t->cfg->log_every;
    if (every > 0 && t->step % every == 0)
        tlog_row(&t->log, t->epoch + 1, t->step, train_lr(t->cfg, t->step - 1, t->total_steps),
                 NULL, drv_now() - t->t_start);
    return 0;
}

/* Writes cfg->out with parameters, optimizer state and metadata. */
static int save(Trainer *t, char *err, size_t errlen) {
    StMeta meta;
    st_meta_init(&meta);
    int rc = recipe_to_meta(t, &meta) ? drv_err(err, errlen, "out of memory")
             : ckpt_meta_setf(&meta, "test_acc", "%.6f", t->test_counts.count ?
                              (double)t->test_counts.correct / (double)t->test_counts.count : 0.0);
    if (rc == 0)
        rc = ckpt_save(t->cfg->out, t->m, t->params, t->cfg->optimizer, t->state, &meta, err, errlen);
    st_meta_free(&meta);
    if (rc == 0) t->saved_epoch = t->epoch;
    return rc;
}

/* Test-set evaluation, summary line, CSV row and checkpoint after an epoch. */
static int end_epoch(Trainer *t, double t0, char *err, size_t errlen) {
    MetCounts *tc = &t->test_counts;
    met_reset(tc);
    met_evaluate(tc, t->m, t->params, t->arena, t->cfg->batch, &t->test);
    double secs = drv_now() - t0, tl = tc->loss_sum / (double)tc->count;
    double ta = (double)tc->correct / (double)tc->count;
    if (t->cfg->verbose)
        printf("epoch %d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.1f s\n",
               t->epoch, t->cfg->epochs, tlog_epoch_loss(&t->log), 100.0 * tlog_epoch_acc(&t->log),
               tl, 100.0 * ta, secs);
    fflush(stdout);
    tlog_row(&t->log, t->epoch, t->step, train_lr(t->cfg, t->step - 1, t->total_steps), tc,
             drv_now() - t->t_start);
    return save(t, err, errlen);
}

/* Set by the SIGINT handler: finish the step, save, stop. */
static volatile sig_atomic_t interrupt_requested;

static void on_sigint(int sig) {
    static const char msg[] = "\ninterrupted: finishing this step and saving a checkpoint "
                              "(Ctrl-C again quits at once)\n";
    if (interrupt_requested) {   /* the second one: the default action, now */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    interrupt_requested = 1;
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);   /* async-signal-safe */
    (void)ignored;
}

/*
** One epoch: shuffle, steps with progress, then end_epoch. An epoch an
** interrupted run saved part of resumes at its next step: its shuffle is
** drawn again from the RNG as the epoch began, then the RNG is set back to
** where the run stopped. Returns 1 when SIGINT stopped it (saved), 0 when
** the epoch is done, -1 on error.
*/
static int run_epoch(Trainer *t, long *run_steps, char *err, size_t errlen) {
    Progress pg;
    double t0 = drv_now();
    RtRng now = t->rng;
    if (t->epoch_step == 0) t->rng_epoch = t->rng;
    t->rng = t->rng_epoch;
    data_shuffle(t->perm, t->train.n, &t->rng);
    if (t->epoch_step > 0) t->rng = now;
    tlog_new_epoch(&t->log);
    prog_begin(&pg, t->cfg->verbose, t->epoch + 1, t->cfg->epochs, t->steps_per_epoch, t->cfg->batch);
    for (long i = t->epoch_step; i < t->steps_per_epoch; i++) {
        if (train_step(t, i, (*run_steps)++, err, errlen)) { prog_end(&pg); return -1; }
        t->epoch_step = i + 1;
        prog_step(&pg, i + 1, tlog_epoch_loss(&t->log), tlog_epoch_acc(&t->log));
        if (t->cfg->raise_sigint_at && *run_steps == t->cfg->raise_sigint_at) raise(SIGINT);
        if (interrupt_requested && i + 1 < t->steps_per_epoch) {
            prog_end(&pg);
            return save(t, err, errlen) ? -1 : 1;
        }
    }
    prog_end(&pg);
    t->epoch_step = 0;
    t->epoch++;
    return end_epoch(t, t0, err, errlen);
}

static void announce(const Trainer *t) {
    const TrainConfig *c = t->cfg;
    if (!c->verbose) return;
    printf("%s: %d training / %d test images (mean %.4f std %.4f), %ld steps/epoch of %d, "
           "%s lr %g wd %g, %s schedule, warmup %ld, threads %d%s%s\n", t->m->name, t->train.n,
           t->test.n, t->mean, t->std, t->steps_per_epoch, c->batch, c->optimizer, c->lr,
           c->weight_decay, c->schedule, c->warmup, c->threads,
           c->resume ? ", resumed from " : "", c->resume ? c->resume : "");
    fflush(stdout);
}

int train_run(const RtModel *m, TrainConfig *cfg, TrainResult *res, char *err, size_t errlen) {
    Trainer t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    t.m = m;
    t.cfg = cfg;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupt_requested = 0;
    sigaction(SIGINT, &sa, &old);
    int rc = setup(&t, err, errlen);
    long run_steps = 0;
    if (rc == 0) announce(&t);
    t.t_start = drv_now();
    while (rc == 0 && t.epoch < cfg->epochs && !(cfg->stop_after > 0 && t.epoch >= cfg->stop_after)) {
        if (interrupt_requested) {   /* between epochs: the epoch's checkpoint is there */
            res->interrupted = 1;
            break;
        }
        rc = run_epoch(&t, &run_steps, err, errlen);
        if (rc == 1) {
            res->interrupted = 1;
            rc = 0;
            break;
        }
    }
    sigaction(SIGINT, &old, NULL);
    res->epoch_step = t.epoch_step;
    res->epoch = t.epoch;
    res->step = t.step;
    res->steps_run = run_steps;
    res->train_loss = tlog_epoch_loss(&t.log);
    res->train_acc = tlog_epoch_acc(&t.log);
    if (t.test_counts.count) {
        res->test_loss = t.test_counts.loss_sum / (double)t.test_counts.count;
        res->test_acc = (double)t.test_counts.correct / (double)t.test_counts.count;
    }
    res->seconds = drv_now() - t.t_start;
    trainer_free(&t);
    return rc;
}

/* }==================================================================== */
