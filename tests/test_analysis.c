/*
** test_analysis.c: gradflow and lesion on real generated networks
** (resnet20 and its plain twin plain20), on a handful of synthetic
** images so that the whole group runs in a few seconds: one finite,
** positive row per weight in depth order; lesion accuracies in [0,1];
** a reproducible sampler that never drops a block twice; the commands'
** CSV output and their exit statuses.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "analysis.h"
#include "ckpt.h"
#include "cli.h"
#include "commands.h"
#include "io_tmp.h"
#include "plain20.h"
#include "resnet20.h"
#include "rt.h"

#define RES (&resnet20_model)
#define PLAIN (&plain20_model)
#define SIDE 28
#define PIXELS (SIDE * SIDE)

/* {====================================================================
** Synthetic data
** ===================================================================== */

/* n normal images and labels 0..9 in turn. */
static void fill(float *x, int32_t *y, int n, uint64_t seed) {
    RtRng r;
    rt_rng_seed(&r, seed);
    for (int i = 0; i < n * PIXELS; i++) x[i] = rt_rng_normal(&r);
    for (int i = 0; i < n; i++) y[i] = i % 10;
}

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* DIR/<split>-images-idx3-ubyte and -labels-idx1-ubyte with n noise images. */
static void write_split(const char *dir, const char *split, int n) {
    size_t ni = 16 + (size_t)n * PIXELS, nl = 8 + (size_t)n;
    unsigned char *im = calloc(ni, 1), *lb = calloc(nl, 1);
    char path[600];
    RtRng r;
    rt_rng_seed(&r, 9);
    im[2] = lb[2] = 8;
    im[3] = 3;
    lb[3] = 1;
    put_u32(im + 4, (uint32_t)n); put_u32(im + 8, SIDE); put_u32(im + 12, SIDE);
    put_u32(lb + 4, (uint32_t)n);
    for (size_t i = 16; i < ni; i++) im[i] = (unsigned char)(rt_rng_next(&r) % 256);
    for (int i = 0; i < n; i++) lb[8 + i] = (unsigned char)(i % 10);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, split);
    io_write(path, im, ni);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, split);
    io_write(path, lb, nl);
    free(im);
    free(lb);
}

/* The scratch directory as a dataset directory (written once; its
** teardown removes only plain files, hence no subdirectory). */
static const char *data_dir(void) {
    static int done;
    if (!done) {
        write_split(io_dir, "train", 24);
        write_split(io_dir, "t10k", 12);
        done = 1;
    }
    return io_dir;
}

/* A checkpoint of m's initialisation with a normalisation in its metadata. */
static const char *save_init(const RtModel *m, const char *name) {
    static char path[4][600];
    static int next;
    char *p = path[next++ & 3], err[512];
    float *params = calloc(m->num_params, sizeof *params);
    StMeta meta;
    m->init(params, 3);
    st_meta_init(&meta);
    assert_int_equal(st_meta_set(&meta, "norm_mean", "0.5") | st_meta_set(&meta, "norm_std", "0.3"), 0);
    snprintf(p, sizeof path[0], "%s", io_path(name));
    assert_int_equal(ckpt_save(p, m, params, NULL, NULL, &meta, err, sizeof err), 0);
    st_meta_free(&meta);
    free(params);
    return p;
}

/* Runs a subcommand of m with a NULL-terminated word list; its exit status. */
static int run_cmd(const RtModel *m, int (*cmd)(const RtModel *, const char *, int, char **), ...) {
    char *argv[24];
    int argc = 0;
    va_list ap;
    va_start(ap, cmd);
    for (char *a; argc < 23 && (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    return cmd(m, m->name, argc, argv);
}

/* A whole text file, NUL-terminated (io_read's buffer has room for it). */
static char *read_text(const char *path) {
    size_t n;
    char *s = (char *)io_read(path, &n);
    s[n] = 0;
    return s;
}

/* Number of lines of a text file. */
static int count_lines(const char *path) {
    size_t n;
    char *s = (char *)io_read(path, &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += s[i] == '\n';
    free(s);
    return lines;
}

static int count_kind(const RtModel *m, RtParamKind kind) {
    int k = 0;
    for (int i = 0; i < m->num_tensors; i++) k += m->tensors[i].kind == kind;
    return k;
}

/* }==================================================================== */

/* {====================================================================
** gradflow
** ===================================================================== */

/* Rows of a probe after two batches of 4: one per weight (and BN scale
** with with_bn), each once, depth order, finite and positive. */
static void check_rows(const RtModel *m, int with_bn) {
    float *params = calloc(m->num_params, sizeof *params), x[8 * PIXELS];
    int32_t y[8];
    char err[512];
    GfProbe p;
    m->init(params, 1);
    fill(x, y, 8, 2);
    assert_int_equal(gf_open(&p, m, params, 4, with_bn, err, sizeof err), 0);
    float l1 = gf_add(&p, x, y, 4), l2 = gf_add(&p, x + 4 * PIXELS, y + 4, 4);
    assert_true(isfinite(l1) && isfinite(l2));
    gf_finish(&p);
    int want = count_kind(m, RT_PARAM_WEIGHT) + (with_bn ? count_kind(m, RT_PARAM_BN_WEIGHT) : 0);
    assert_int_equal(p.nrows, want);
    char *seen = calloc((size_t)m->num_tensors, 1);
    for (int i = 0; i < p.nrows; i++) {
        const GfRow *r = &p.rows[i];
        assert_int_equal(r->depth, m->layers[r->layer].depth);
        assert_int_equal(r->layer, m->tensors[r->tensor].layer);
        assert_false(seen[r->tensor]);
        seen[r->tensor] = 1;
        if (i > 0) assert_true(r->depth >= p.rows[i - 1].depth);
        assert_true(isfinite(r->grad_norm) && r->grad_norm > 0);
        assert_true(isfinite(r->weight_norm) && r->weight_norm > 0);
        assert_true(isfinite(r->input_grad_norm) && r->input_grad_norm > 0);
    }
    /* first = nearest the input, last = the classifier */
    assert_string_equal(m->tensors[p.rows[0].tensor].name, "conv1.weight");
    assert_string_equal(m->tensors[p.rows[p.nrows - 1].tensor].name, "fc.weight");
    free(seen);
    gf_close(&p);
    free(params);
}

static void test_gradflow_rows_plain(void **state) {
    (void)state;
    check_rows(PLAIN, 0);
}

static void test_gradflow_rows_resnet(void **state) {
    (void)state;
    check_rows(RES, 0);
    check_rows(RES, 1);
}

/* One batch through the probe gives the norm of the gradient that a
** direct forward/backward gives, and the model input's gradient norm. */
static void test_gradflow_matches_backward(void **state) {
    (void)state;
    const RtModel *m = RES;
    float *params = calloc(m->num_params, sizeof *params), x[4 * PIXELS], dx[4 * PIXELS] = {0};
    float *grads = calloc(m->num_trainable, sizeof *grads);
    float *arena = calloc(RT_ARENA_FLOATS(m, 4), sizeof *arena);
    int32_t y[4];
    char err[512];
    GfProbe p;
    m->init(params, 4);
    fill(x, y, 4, 5);
    assert_int_equal(gf_open(&p, m, params, 4, 0, err, sizeof err), 0);
    gf_add(&p, x, y, 4);
    gf_finish(&p);
    m->zero_grad(grads);
    m->loss(m->forward(params, arena, x, 4, 1, NULL), y, 4);
    m->backward(params, grads, arena, x, y, dx, 4, NULL);
    for (int i = 0; i < p.nrows; i++) {
        const RtParamInfo *t = &m->tensors[p.rows[i].tensor];
        double s = 0;
        for (size_t j = 0; j < t->len; j++) s += (double)grads[t->offset + j] * grads[t->offset + j];
        assert_float_equal(p.rows[i].grad_norm, sqrt(s), 1e-4 * sqrt(s));
    }
    double s = 0;
    for (int j = 0; j < 4 * PIXELS; j++) s += (double)dx[j] * dx[j];
    assert_float_equal(p.rows[0].input_grad_norm, sqrt(s), 1e-4 * sqrt(s));
    gf_close(&p);
    free(params); free(grads); free(arena);
}

/* The command: a CSV with a header and one row per weight, by depth. */
static void test_gradflow_command(void **state) {
    (void)state;
    const char *dir = data_dir();
    char csv[600];
    snprintf(csv, sizeof csv, "%s", io_path("gf.csv"));
    assert_int_equal(run_cmd(PLAIN, cmd_gradflow, "--init", "--data", dir, "--batches", "2",
                             "--batch", "4", "--csv", csv, NULL), CLI_OK);
    assert_int_equal(count_lines(csv), 1 + count_kind(PLAIN, RT_PARAM_WEIGHT));
    char *s = read_text(csv);
    assert_true(!strncmp(s, "depth,layer,param,grad_norm,weight_norm,ratio,input_grad_norm\n"
                         "1,conv1,conv1.weight,", 83));
    int last = 0;
    for (char *line = strchr(s, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        int d = atoi(line);
        assert_true(d >= last);
        last = d;
    }
    free(s);
    const char *ck = save_init(RES, "res.st");
    assert_int_equal(run_cmd(RES, cmd_gradflow, "--weights", ck, "--data", dir, "--batches", "1",
                             "--batch", "8", NULL), CLI_OK);
    assert_int_equal(run_cmd(RES, cmd_gradflow, "--weights", ck, "--init", NULL), CLI_USAGE);
    assert_int_equal(run_cmd(RES, cmd_gradflow, NULL), CLI_USAGE);
    assert_int_equal(run_cmd(RES, cmd_gradflow, "--init", "--data", dir, "--batches", "7",
                             "--batch", "4", NULL), CLI_FAIL);      /* 24 images < 28 */
    assert_int_equal(run_cmd(RES, cmd_gradflow, "--init", "--data", io_path("none"), NULL), CLI_FAIL);
}

/* }==================================================================== */

/* {====================================================================
** lesion
** ===================================================================== */

/* Accuracy in [0,1] with one block dropped, over a partial last batch;
** an all-zero drop is the whole network. */
static void test_lesion_accuracy(void **state) {
    (void)state;
    const RtModel *m = RES;
    float *params = calloc(m->num_params, sizeof *params), x[6 * PIXELS];
    float *arena = calloc(RT_INFER_ARENA_FLOATS(m, 4), sizeof *arena);
    int32_t y[6];
    unsigned char drop[16] = {0};
    IdxDataset ds = {.n = 6, .c = 1, .h = SIDE, .w = SIDE, .num_classes = 10, .x = x, .y = y};
    m->init(params, 6);
    fill(x, y, 6, 7);
    assert_true(m->num_skips > 0 && m->num_skips <= 16);
    double whole = les_accuracy(m, params, arena, 4, &ds, NULL);
    assert_true(whole == les_accuracy(m, params, arena, 4, &ds, drop));
    drop[0] = 1;
    double cut = les_accuracy(m, params, arena, 4, &ds, drop);
    assert_true(whole >= 0.0 && whole <= 1.0);
    assert_true(cut >= 0.0 && cut <= 1.0);
    assert_true(cut * 6 == floor(cut * 6 + 0.5));   /* a count out of 6 */
    free(params);
    free(arena);
}

/* Same seed, same sets; exactly k distinct blocks; every block reachable. */
static void test_lesion_draw(void **state) {
    (void)state;
    enum { K = 27 };
    RtRng a, b, c;
    int sa[K], sb[K], hits[K] = {0}, differs = 0;
    unsigned char da[K], db[K];
    rt_rng_seed(&a, 11);
    rt_rng_seed(&b, 11);
    rt_rng_seed(&c, 12);
    for (int round = 0; round < 50; round++) {
        for (int k = 0; k <= K; k++) {
            les_draw(&a, K, k, sa, da);
            les_draw(&b, K, k, sb, db);
            assert_memory_equal(da, db, K);
            int ones = 0;
            for (int i = 0; i < K; i++) { assert_true(da[i] <= 1); ones += da[i]; }
            assert_int_equal(ones, k);               /* no block twice */
            for (int i = 0; i < k; i++) assert_int_equal(da[sa[i]], 1);
            les_draw(&c, K, k, sb, db);
            differs += memcmp(da, db, K) != 0;
        }
    }
    for (int round = 0; round < 1000; round++) {
        les_draw(&a, K, 1, sa, da);
        for (int i = 0; i < K; i++) hits[i] += da[i];
    }
    for (int i = 0; i < K; i++) assert_true(hits[i] > 0);
    assert_true(differs > 0);
}

/* The command: baseline, every single block, draws per k in the CSV; a
** plain net has nothing to drop and says so; errors and usage. */
static void test_lesion_command(void **state) {
    (void)state;
    const char *dir = data_dir(), *ck = save_init(RES, "les.st");
    char csv[600];
    snprintf(csv, sizeof csv, "%s", io_path("les.csv"));
    assert_int_equal(run_cmd(RES, cmd_lesion, "--weights", ck, "--data", dir, "--batch", "8",
                             "--draws", "2", "--max-k", "2", "--csv", csv, NULL), CLI_OK);
    int k = RES->num_skips;
    assert_int_equal(count_lines(csv), 1 + 1 + k + 2 * 2);
    char *s = read_text(csv);
    assert_true(!strncmp(s, "kind,k,blocks,accuracy\nbaseline,0,,", 35));
    assert_non_null(strstr(s, "\nsingle,1,layer1.0.add1,"));
    assert_non_null(strstr(s, "\nrandom,2,"));
    free(s);
    const char *pk = save_init(PLAIN, "plain.st");
    assert_int_equal(run_cmd(PLAIN, cmd_lesion, "--weights", pk, "--data", io_path("none"), NULL),
                     CLI_OK);
    assert_int_equal(run_cmd(RES, cmd_lesion, "--weights", ck, "--data", io_path("none"), NULL),
                     CLI_FAIL);
    assert_int_equal(run_cmd(RES, cmd_lesion, "--weights", pk, "--data", dir, NULL), CLI_FAIL);
    assert_int_equal(run_cmd(RES, cmd_lesion, "--data", dir, NULL), CLI_USAGE);
    assert_int_equal(run_cmd(RES, cmd_lesion, "--weights", ck, "--draws", "0", NULL), CLI_USAGE);
}

/* }==================================================================== */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradflow_rows_plain),
        cmocka_unit_test(test_gradflow_rows_resnet),
        cmocka_unit_test(test_gradflow_matches_backward),
        cmocka_unit_test(test_gradflow_command),
        cmocka_unit_test(test_lesion_accuracy),
        cmocka_unit_test(test_lesion_draw),
        cmocka_unit_test(test_lesion_command),
    };
    return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
