/*
** cmd_lesion.c: the lesion subcommand (Veit et al. 2016): test accuracy
** with residual blocks cut down to their identity path, one at a time and
** in random sets of k. If a residual net behaves like an ensemble of
** shallower paths, cutting one block costs little and accuracy falls
** smoothly with k.
*/
#include "analysis.h"
#include "cli.h"
#include "commands.h"
#include "data.h"
#include "drv_util.h"
#include "metrics.h"
#include "train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double les_accuracy(const RtModel *m, const float *params, float *arena, int batch,
                    const IdxDataset *ds, const unsigned char *drop) {
    size_t sample = (size_t)ds->c * ds->h * ds->w;
    int k = m->out_shape[0];
    long correct = 0;
    for (int i = 0; i < ds->n; i += batch) {
        int n = ds->n - i < batch ? ds->n - i : batch;
        const float *out = m->infer(params, arena, ds->x + (size_t)i * sample, n, drop);
        for (int j = 0; j < n; j++) correct += met_argmax(out + (size_t)j * k, k) == ds->y[i + j];
    }
    return ds->n > 0 ? (double)correct / ds->n : 0.0;
}

void les_draw(RtRng *r, int nskips, int k, int *scratch, unsigned char *drop) {
    for (int i = 0; i < nskips; i++) { scratch[i] = i; drop[i] = 0; }
    for (int i = 0; i < k; i++) {       /* positions 0..i-1 hold the chosen ones */
        int j = i + (int)(rt_rng_next(r) % (uint64_t)(nskips - i));
        int t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        drop[scratch[i]] = 1;
    }
}

/* {====================================================================
** The command
** ===================================================================== */

typedef struct {
    const char *weights, *dir, *csv;
    int batch, draws, max_k, threads;
    long seed, limit;
} LesArgs;

/* Everything one run owns. */
typedef struct {
    const RtModel *m;
    const LesArgs *a;
    float *params, *arena;
    IdxDataset test;
    unsigned char *drop;
    int *scratch;
    FILE *csv;
    char *blocks;               /* text of the current random set */
} Lesion;

static double accuracy(Lesion *l, const unsigned char *drop) {
    return les_accuracy(l->m, l->params, l->arena, l->a->batch, &l->test, drop);
}

static void csv_row(Lesion *l, const char *kind, int k, const char *blocks, double acc) {
    if (l->csv) fprintf(l->csv, "%s,%d,%s,%.6f\n", kind, k, blocks, acc);
}

/* Each block dropped alone. */
static void singles(Lesion *l, double base) {
    const RtModel *m = l->m;
    printf("\nsingle blocks dropped (residual add -> its identity input):\n");
    printf("%5s  %-28s %-28s %9s %8s\n", "block", "add", "kept input", "accuracy", "change");
    for (int k = 0; k < m->num_skips; k++) {
        memset(l->drop, 0, (size_t)m->num_skips);
        l->drop[k] = 1;
        double acc = accuracy(l, l->drop);
        const char *name = m->layers[m->skips[k].layer].name;
        printf("%5d  %-28s %-28s %8.2f%% %+7.2f\n", k, name, m->skips[k].identity, 100.0 * acc,
               100.0 * (acc - base));
        fflush(stdout);
        csv_row(l, "single", 1, name, acc);
    }
}

/* The dropped blocks as "i;j;...", in drop[] order. */
static void set_text(Lesion *l) {
    size_t len = 0;
    l->blocks[0] = 0;
    for (int i = 0; i < l->m->num_skips; i++)
        if (l->drop[i]) len += (size_t)sprintf(l->blocks + len, len ? ";%d" : "%d", i);
}

/* Random sets of k blocks, k = 1..max_k; one draw when k is all of them. */
static void random_sets(Lesion *l, int max_k) {
    int K = l->m->num_skips;
    RtRng rng;
    rt_rng_seed(&rng, (uint64_t)l->a->seed);
    printf("\nrandom sets of k blocks dropped (%d draws each, seed %ld):\n", l->a->draws, l->a->seed);
    printf("%5s %6s %9s %9s %9s\n", "k", "draws", "mean", "min", "max");
    for (int k = 1; k <= max_k; k++) {
        int draws = k == K ? 1 : l->a->draws;
        double sum = 0.0, lo = 1.0, hi = 0.0;
        for (int d = 0; d < draws; d++) {
            les_draw(&rng, K, k, l->scratch, l->drop);
            double acc = accuracy(l, l->drop);
            set_text(l);
            csv_row(l, "random", k, l->blocks, acc);
            sum += acc;
            lo = acc < lo ? acc : lo;
            hi = acc > hi ? acc : hi;
        }
        printf("%5d %6d %8.2f%% %8.2f%% %8.2f%%\n", k, draws, 100.0 * sum / draws, 100.0 * lo,
               100.0 * hi);
        fflush(stdout);
    }
}

/* Test data, buffers and the CSV (opened first, so a bad path fails
** before the evaluations rather than after). */
static int setup(Lesion *l, const float *norm, char *err, size_t errlen) {
    const RtModel *m = l->m;
    const LesArgs *a = l->a;
    char what[1100];
    snprintf(what, sizeof what, "%s/t10k-images-idx3-ubyte", a->dir);
    if (a->csv && !(l->csv = fopen(a->csv, "w")))
        return drv_err(err, errlen, "%s: cannot write: %s", a->csv, strerror(errno));
    if (data_load_split(&l->test, a->dir, "t10k", a->limit, m, err, errlen)
        || data_check_model(m, l->test.c, l->test.h, l->test.w, what, err, errlen))
        return -1;
    data_normalise(l->test.x, (size_t)l->test.n * l->test.c * l->test.h * l->test.w, norm[0],
                   norm[1]);
    l->drop = calloc((size_t)m->num_skips, 1);
    l->scratch = calloc((size_t)m->num_skips, sizeof *l->scratch);
    l->blocks = calloc((size_t)m->num_skips * 12 + 1, 1);
    if (!l->drop || !l->scratch || !l->blocks
        || !(l->arena = drv_floats(RT_INFER_ARENA_FLOATS(m, a->batch), err, errlen)))
        return drv_err(err, errlen, "out of memory for batch %d", a->batch);
    if (l->csv) fputs("kind,k,blocks,accuracy\n", l->csv);
    return 0;
}

/* Closes the CSV (reporting a failed write) and frees everything. */
static int finish(Lesion *l, int rc, char *err, size_t errlen) {
    if (l->csv) {
        int bad = ferror(l->csv);
        if ((fclose(l->csv) || bad) && rc == 0)
            rc = drv_err(err, errlen, "%s: write failed", l->a->csv);
    }
    idx_dataset_free(&l->test);
    free(l->params);
    free(l->arena);
    free(l->drop);
    free(l->scratch);
    free(l->blocks);
    return rc;
}

static int run(Lesion *l, const float *norm, char *err, size_t errlen) {
    const RtModel *m = l->m;
    int max_k = l->a->max_k > 0 && l->a->max_k < m->num_skips ? l->a->max_k : m->num_skips;
    double t0 = drv_now();
    int rc = setup(l, norm, err, errlen);
    if (rc == 0) {
        double base = accuracy(l, NULL);
        printf("%s: %s, %d test images, %d residual adds\n", m->name, l->a->weights, l->test.n,
               m->num_skips);
        printf("baseline accuracy %.2f%%\n", 100.0 * base);
        csv_row(l, "baseline", 0, "", base);
        singles(l, base);
        random_sets(l, max_k);
        printf("\n%.1f s%s%s\n", drv_now() - t0, l->csv ? "; table -> " : "",
               l->csv ? l->a->csv : "");
    }
    return finish(l, rc, err, errlen);
}

static const char LES_HELP[] =
    "Lesion study (Veit et al. 2016): test accuracy in evaluation mode with residual\n"
    "blocks dropped, i.e. their add passing only its identity input. First the whole\n"
    "network, then each block dropped alone, then for k = 1..--max-k the mean, min\n"
    "and max over --draws random sets of k distinct blocks (seeded).\n"
    "CSV: kind (baseline, single, random), k, blocks (the add's layer name for\n"
    "single rows; 0-based block indices joined by ';' for random ones), accuracy.\n"
    "A plain network has no residual adds: there is nothing to drop, since removing\n"
    "one of its layers cuts the only path from input to output.";

int cmd_lesion(const RtModel *m, const char *prog, int argc, char **argv) {
    LesArgs a = {NULL, TRAIN_DEFAULT_DATA, NULL, 256, 5, 0, 2, 1, 0};
    char err[DRV_ERRLEN];
    CliOpt opts[] = {
        {"weights", CLI_STR, &a.weights, "CKPT", "checkpoint to study (required)", NULL},
        {"data", CLI_STR, &a.dir, "DIR", "dataset directory (its t10k-* files)", NULL},
        {"batch", CLI_COUNT, &a.batch, "N", "images per forward pass", NULL},
        {"draws", CLI_COUNT, &a.draws, "N", "random sets per k", NULL},
        {"max-k", CLI_INT, &a.max_k, "N", "largest k for random sets", "all blocks"},
        {"seed", CLI_LONG, &a.seed, "N", "random sets", NULL},
        {"limit-test", CLI_LONG, &a.limit, "N", "use the first N test images", "all"},
        {"threads", CLI_THREADS, &a.threads, "N", "BLAS threads", NULL},
        {"csv", CLI_STR, &a.csv, "FILE", "also write every accuracy as CSV", "none"},
    };
    int rc = cli_parse(prog, "lesion", LES_HELP, opts, sizeof opts / sizeof *opts, argc, argv);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!a.weights) return cli_usage_error(prog, "lesion", "--weights is required", NULL);
    if (a.max_k < 0 || a.limit < 0)
        return cli_usage_error(prog, "lesion", "--max-k and --limit-test must be >= 0", NULL);
    drv_set_threads(a.threads);
    Lesion l;
    memset(&l, 0, sizeof l);
    l.m = m;
    l.a = &a;
    float norm[2];
    if (!(l.params = cmd_load_weights(m, a.weights, norm, err, sizeof err))) return cmd_fail(prog, err);
    if (m->num_skips == 0) {
        printf("%s has no residual adds: nothing to lesion (removing a layer of a plain net "
               "cuts the only path from input to output)\n", m->name);
        free(l.params);
        return CLI_OK;
    }
    return run(&l, norm, err, sizeof err) ? cmd_fail(prog, err) : CLI_OK;
}

/* }==================================================================== */
