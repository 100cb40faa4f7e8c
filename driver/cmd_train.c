/*
** cmd_train.c: the train subcommand, options -> TrainConfig -> train_run.
*/
#include "cli.h"
#include "commands.h"
#include "drv_util.h"
#include "rt_geom.h"
#include "train.h"

#include <stdio.h>
#include <string.h>

static const char TRAIN_HELP[] =
    "Trains the model on an IDX image set (Fashion-MNIST layout: DIR/train-* and\n"
    "DIR/t10k-*, gzip or plain), writing a checkpoint after every epoch.\n"
    "Inputs are normalised with the mean/std of the training images used, which\n"
    "the checkpoint records. The last partial batch of an epoch is dropped.\n"
    "--resume continues exactly (same losses as an uninterrupted run with the same\n"
    "--threads): the recipe (optimizer, lr, schedule, batch, augmentation, seed,\n"
    "--limit-train) comes from the checkpoint; --epochs may extend the run.\n"
    "A non-finite loss or gradient stops training with the first layer at fault;\n"
    "the last checkpoint is kept.";

/* "crop,flip", "crop", "flip" or "none" into cfg. 0 or -1. */
static int parse_augment(TrainConfig *c, const char *s) {
    c->crop_pad = 0;
    c->flip = 0;
    if (!strcmp(s, "none") || !*s) return 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *w = strtok(buf, ","); w; w = strtok(NULL, ",")) {
        if (!strcmp(w, "crop")) c->crop_pad = 2;
        else if (!strcmp(w, "flip")) c->flip = 1;
        else return -1;
    }
    return 0;
}

static int print_result(const char *prog, const TrainConfig *c, const TrainResult *r) {
    if (r->interrupted) {
        if (r->epoch_step > 0)
            printf("interrupted in epoch %d after step %ld of it; checkpoint %s saved.\n",
                   r->epoch + 1, r->epoch_step, c->out);
        else
            printf("interrupted after epoch %d; checkpoint %s is up to date.\n", r->epoch, c->out);
        printf("continue with: %s train --resume %s --out %s (and the same --data and "
               "--limit options)\n", prog, c->out, c->out);
        return CLI_INTERRUPTED;
    }
    if (r->steps_run == 0) {
        printf("nothing to do: %s already has %d of %d epochs\n", c->resume, r->epoch, c->epochs);
        return CLI_OK;
    }
    printf("done: %d epochs, %ld steps, test accuracy %.2f%%, %.1f s; checkpoint %s\n",
           r->epoch, r->step, 100.0 * r->test_acc, r->seconds, c->out);
    return CLI_OK;
}

int cmd_train(const RtModel *m, const char *prog, int argc, char **argv) {
    TrainConfig c;
    train_defaults(&c);
    char out[512], err[DRV_ERRLEN];
    snprintf(out, sizeof out, "build/%s.safetensors", m->name);
    c.out = out;
    const char *augment = "crop,flip";
    CliOpt opts[] = {
        {"data", CLI_STR, &c.data_dir, "DIR", "dataset directory", NULL},
        {"epochs", CLI_COUNT, &c.epochs, "N", "total epochs", "15; on --resume the checkpoint's"},
        {"batch", CLI_COUNT, &c.batch, "N", "batch size", NULL},
        {"lr", CLI_POSITIVE, &c.lr, "X", "peak learning rate", "0.1 sgd, 0.001 adamw"},
        {"optimizer", CLI_STR, &c.optimizer, "NAME", "sgd or adamw", NULL},
        {"momentum", CLI_NONNEG, &c.momentum, "X", "SGD momentum", NULL},
        {"nesterov", CLI_FLAG, &c.nesterov, NULL, "Nesterov momentum", NULL},
        {"no-nesterov", CLI_NOFLAG, &c.nesterov, NULL, "plain momentum", NULL},
        {"weight-decay", CLI_NONNEG, &c.weight_decay, "X", "weight decay (decoupled for adamw)",
         "5e-4 sgd, 0.01 adamw"},
        {"schedule", CLI_STR, &c.schedule, "NAME", "cosine (to 0) or step (x0.1 at 50%, 75%)", NULL},
        {"warmup", CLI_LONG, &c.warmup, "N", "steps of linear lr warmup", NULL},
        {"augment", CLI_STR, &augment, "LIST", "crop (2-pixel pad), flip, or none", NULL},
        {"seed", CLI_LONG, &c.seed, "N", "initialisation, shuffling and augmentation", NULL},
        {"threads", CLI_THREADS, &c.threads, "N", "BLAS threads (results depend on it)", NULL},
        {"out", CLI_STR, &c.out, "CKPT", "checkpoint written after every epoch", NULL},
        {"resume", CLI_STR, &c.resume, "CKPT", "continue from a checkpoint", "none"},
        {"log", CLI_STR, &c.log, "CSV", "per-epoch metrics and gradient norms", "none"},
        {"log-every", CLI_LONG, &c.log_every, "N", "also a CSV row every N steps", "off"},
        {"limit-train", CLI_LONG, &c.limit_train, "N", "use the first N training images", "all"},
        {"limit-test", CLI_LONG, &c.limit_test, "N", "use the first N test images", "all"},
        {"stop-after", CLI_COUNT, &c.stop_after, "N", "end this run after epoch N", "never"},
    };
    int rc = cli_parse(prog, "train", TRAIN_HELP, opts, sizeof opts / sizeof *opts, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (parse_augment(&c, augment)) return cli_usage_error(prog, "train", "bad --augment", augment);
    if (strcmp(c.optimizer, "sgd") && strcmp(c.optimizer, "adamw"))
        return cli_usage_error(prog, "train", "--optimizer must be sgd or adamw, not", c.optimizer);
    if (strcmp(c.schedule, "cosine") && strcmp(c.schedule, "step"))
        return cli_usage_error(prog, "train", "--schedule must be cosine or step, not", c.schedule);
    if (c.limit_train < 0 || c.limit_test < 0 || c.log_every < 0 || c.warmup < 0)
        return cli_usage_error(prog, "train", "--limit-train, --limit-test, --log-every and "
                               "--warmup must be >= 0", NULL);
    if (c.log && (drv_same_file(c.log, c.out) || (c.resume && drv_same_file(c.log, c.resume))))
        return cli_usage_error(prog, "train", "--log would replace a checkpoint:", c.log);
    if (c.momentum >= 1)
        return cli_usage_error(prog, "train", "--momentum must be below 1", NULL);
    if (c.epochs > TRAIN_MAX_EPOCHS)
        return cli_usage_error(prog, "train", "--epochs must be at most " RT_STR(TRAIN_MAX_EPOCHS),
                               NULL);
    TrainResult r;
    if (train_run(m, &c, &r, err, sizeof err)) return cmd_fail(prog, err);
    return print_result(prog, &c, &r);
}
