/*
** test_train.c: the training driver on a real generated model (mlp):
** bit-identical reruns, exact resume, checkpoint round trips, a short
** Fashion-MNIST run that must learn, and clean errors for bad inputs.
**
** Most tests use a small synthetic IDX set written to a scratch
** directory (the class shows as a bright row), so they run without the
** dataset; the Fashion-MNIST test skips when it is absent.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "cli.h"
#include "commands.h"
#include "io_npy.h"
#include "io_tmp.h"
#include "mlp.h"
#include "rt.h"
#include "train.h"

#define M (&mlp_model)
#define FASHION "/usr/share/datasets/fashion-mnist"
#define TRACE 64

/* {====================================================================
** Synthetic IDX data
** ===================================================================== */

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* Writes an IDX unsigned-byte file with the given dims and data. */
static void write_idx(const char *path, int ndim, const int *dims, const unsigned char *data) {
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)dims[i];
    unsigned char *buf = malloc(4 + 4 * (size_t)ndim + count);
    assert_non_null(buf);
    buf[0] = buf[1] = 0; buf[2] = 8; buf[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) put_u32(buf + 4 + 4 * i, (uint32_t)dims[i]);
    memcpy(buf + 4 + 4 * ndim, data, count);
    io_write(path, buf, 4 + 4 * (size_t)ndim + count);
    free(buf);
}

/*
** Writes <split>-images/labels into directory 'dir': n images of side
** s with noise and a bright row 2*label+3; label_max is the largest label.
*/
static void write_split(const char *dir, const char *split, int n, int s, int label_max) {
    unsigned char *im = malloc((size_t)n * s * s), *lb = malloc((size_t)n);
    RtRng r;
    char path[600];
    rt_rng_seed(&r, 42);
    for (int i = 0; i < n; i++) {
        lb[i] = (unsigned char)(i % (label_max + 1));
        for (int p = 0; p < s * s; p++) im[(size_t)i * s * s + p] = (unsigned char)(rt_rng_next(&r) % 80);
        for (int x = 0; x < s; x++) im[(size_t)i * s * s + (size_t)((2 * (lb[i] % 10) + 3) % s) * s + x] = 250;
    }
    int idims[3] = {n, s, s}, ldims[1] = {n};
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, split);
    write_idx(path, 3, idims, im);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, split);
    write_idx(path, 1, ldims, lb);
    free(im);
    free(lb);
}

/* A dataset directory inside the scratch directory; returns its path. */
static const char *make_data(const char *name, int ntrain, int side, int label_max) {
    static char dir[4][600];
    static int next;
    char *d = dir[next++ & 3];
    snprintf(d, sizeof dir[0], "%s", io_path(name));
    mkdir(d, 0755);
    write_split(d, "train", ntrain, side, label_max);
    write_split(d, "t10k", 100, side, label_max < 10 ? label_max : 9);
    return d;
}

/* }==================================================================== */

/* A quiet config for a short run on 'dir' writing 'out'. */
static TrainConfig quick(const char *dir, const char *out, float *trace) {
    TrainConfig c;
    train_defaults(&c);
    c.data_dir = dir;
    c.out = out;
    c.batch = 32;
    c.epochs = 2;
    c.verbose = 0;
    c.loss_trace = trace;
    c.trace_cap = TRACE;
    return c;
}

static float *load_params(const char *path, float *mom) {
    float *p = calloc(M->num_params, sizeof *p);
    char err[512];
    assert_int_equal(ckpt_load(path, M, p, NULL, err, sizeof err), 0);
    float *st[1] = {mom};
    if (mom) assert_int_equal(ckpt_load_optim(path, M, "sgd", st, err, sizeof err), 0);
    return p;
}

static void test_deterministic(void **state) {
    (void)state;
    const char *dir = make_data("det", 320, 28, 9);
    float a[TRACE] = {0}, b[TRACE] = {0}, c3[TRACE] = {0};
    char err[512];
    TrainResult ra, rb, rc;
    TrainConfig c = quick(dir, io_path("det_a.st"), a);
    assert_int_equal(train_run(M, &c, &ra, err, sizeof err), 0);
    c = quick(dir, io_path("det_b.st"), b);
    assert_int_equal(train_run(M, &c, &rb, err, sizeof err), 0);
    assert_int_equal(ra.steps_run, 20);          /* 320/32 steps x 2 epochs */
    assert_memory_equal(a, b, sizeof a);
    c = quick(dir, io_path("det_c.st"), c3);
    c.seed = 2;
    assert_int_equal(train_run(M, &c, &rc, err, sizeof err), 0);
    assert_memory_not_equal(a, c3, 20 * sizeof *a);
    for (int i = 0; i < 20; i++) assert_true(isfinite(a[i]));
}

/* 2 epochs straight vs 1 epoch, stop, resume: same losses, same files. */
static void test_resume(void **state) {
    (void)state;
    const char *dir = make_data("res", 330, 28, 9);   /* 330 % 32 != 0: drop_last */
    float a[TRACE] = {0}, b[TRACE] = {0};
    char err[512];
    TrainResult r;
    TrainConfig c = quick(dir, io_path("res_a.st"), a);
    c.log = io_path("res_a.csv");
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    c = quick(dir, io_path("res_b.st"), b);
    c.stop_after = 1;
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    assert_int_equal(r.epoch, 1);
    assert_int_equal(r.steps_run, 10);
    TrainConfig d = quick(dir, io_path("res_b.st"), b + 10);
    d.resume = io_path("res_b.st");
    d.epochs = 0;                                /* the checkpoint's: 2 */
    d.lr = 7.0f;                                 /* ignored: recipe comes from the file */
    assert_int_equal(train_run(M, &d, &r, err, sizeof err), 0);
    assert_int_equal(r.epoch, 2);
    assert_int_equal(r.step, 20);
    assert_memory_equal(a, b, 20 * sizeof *a);
    float *ma = calloc(M->num_trainable, 4), *mb = calloc(M->num_trainable, 4);
    float *pa = load_params(io_path("res_a.st"), ma), *pb = load_params(io_path("res_b.st"), mb);
    assert_memory_equal(pa, pb, M->num_params * sizeof *pa);
    assert_memory_equal(ma, mb, M->num_trainable * sizeof *ma);
    free(pa); free(pb); free(ma); free(mb);
    size_t n;
    char *csv = (char *)io_read(io_path("res_a.csv"), &n);
    assert_non_null(strstr(csv, ",seconds,grad_norm:fc1.weight,grad_norm:fc2.weight\n1,10,"));
    assert_non_null(strstr(csv, "\n2,20,"));
    free(csv);
}

/*
** Ctrl-C mid epoch (a real SIGINT through the handler): the step finishes,
** a checkpoint is saved there and the run returns; resuming it gives the
** same losses and the same files as a run never interrupted, bit for bit.
*/
static void test_interrupt_resume(void **state) {
    (void)state;
    const char *dir = make_data("int", 330, 28, 9);
    float a[TRACE] = {0}, b[TRACE] = {0};
    char err[512];
    TrainResult r;
    TrainConfig c = quick(dir, io_path("int_a.st"), a);
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    assert_int_equal(r.interrupted, 0);
    c = quick(dir, io_path("int_b.st"), b);
    c.raise_sigint_at = 13;                      /* epoch 2, step 3 of 10 */
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    assert_int_equal(r.interrupted, 1);
    assert_int_equal(r.epoch, 1);
    assert_int_equal(r.epoch_step, 3);
    assert_int_equal(r.step, 13);
    TrainConfig d = quick(dir, io_path("int_b.st"), b + 13);
    d.resume = io_path("int_b.st");
    d.epochs = 0;
    assert_int_equal(train_run(M, &d, &r, err, sizeof err), 0);
    assert_int_equal(r.interrupted, 0);
    assert_int_equal(r.epoch, 2);
    assert_int_equal(r.steps_run, 7);
    assert_memory_equal(a, b, 20 * sizeof *a);
    float *ma = calloc(M->num_trainable, 4), *mb = calloc(M->num_trainable, 4);
    float *pa = load_params(io_path("int_a.st"), ma), *pb = load_params(io_path("int_b.st"), mb);
    assert_memory_equal(pa, pb, M->num_params * sizeof *pa);
    assert_memory_equal(ma, mb, M->num_trainable * sizeof *ma);
    free(pa); free(pb); free(ma); free(mb);
}

/* Every tensor, both optimizers' state and the metadata survive a save. */
static void test_checkpoint_round_trip(void **state) {
    (void)state;
    size_t np = M->num_params, nt = M->num_trainable;
    float *p = malloc(np * 4), *s0 = malloc(nt * 4), *s1 = malloc(nt * 4);
    float *q = calloc(np, 4), *t0 = calloc(nt, 4), *t1 = calloc(nt, 4);
    RtRng r;
    rt_rng_seed(&r, 3);
    for (size_t i = 0; i < np; i++) p[i] = rt_rng_normal(&r);
    for (size_t i = 0; i < nt; i++) { s0[i] = rt_rng_normal(&r); s1[i] = rt_rng_uniform(&r); }
    StMeta meta, got;
    st_meta_init(&meta);
    st_meta_init(&got);
    assert_int_equal(ckpt_meta_setf(&meta, "model", "%s", M->name), 0);
    assert_int_equal(ckpt_meta_setf(&meta, "rng", "%016llx", 0x0123456789abcdefULL), 0);
    char err[512];
    float *st[2] = {s0, s1}, *dt[2] = {t0, t1};
    assert_int_equal(ckpt_save(io_path("rt.st"), M, p, "adamw", st, &meta, err, sizeof err), 0);
    assert_int_equal(ckpt_load(io_path("rt.st"), M, q, &got, err, sizeof err), 0);
    assert_int_equal(ckpt_load_optim(io_path("rt.st"), M, "adamw", dt, err, sizeof err), 0);
    assert_memory_equal(p, q, np * 4);
    assert_memory_equal(s0, t0, nt * 4);
    assert_memory_equal(s1, t1, nt * 4);
    uint64_t h;
    assert_int_equal(ckpt_meta_hex(&got, "rng", &h, "x", err, sizeof err), 0);
    assert_true(h == 0x0123456789abcdefULL);
    /* SGD state is not in an AdamW checkpoint: a clear error, not garbage. */
    assert_int_equal(ckpt_load_optim(io_path("rt.st"), M, "sgd", dt, err, sizeof err), -1);
    io_err_has(err, "rt.st", "momentum_buffer", NULL);
    st_meta_free(&meta);
    st_meta_free(&got);
    free(p); free(s0); free(s1); free(q); free(t0); free(t1);
}

/* The CI data path: the mlp learns Fashion-MNIST from 5000 images. */
static void test_fashion_mnist(void **state) {
    (void)state;
    struct stat sb;
    if (stat(FASHION "/train-images-idx3-ubyte.gz", &sb)) skip();
    char err[512];
    TrainResult r;
    TrainConfig c = quick(FASHION, io_path("fm.st"), NULL);
    c.limit_train = 5000;
    c.limit_test = 2000;
    c.batch = 64;
    c.epochs = 5;
    c.lr = 0.05f;
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    print_message("fashion-mnist: %ld steps, test accuracy %.2f%% on 2000 images\n", r.step,
                  100.0 * r.test_acc);
    assert_true(r.test_acc > 0.70);
}

/* {====================================================================
** Errors: one clear line, no crash, nothing written
** ===================================================================== */

static void train_fails(const char *dir, const char *resume, const char *n1, const char *n2) {
    char err[512] = "";
    TrainResult r;
    TrainConfig c = quick(dir, io_path("never.st"), NULL);
    c.resume = resume;
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), -1);
    io_err_has(err, n1, n2, NULL);
    struct stat sb;
    assert_int_not_equal(stat(io_path("never.st"), &sb), 0);
}

static void test_wrong_dims(void **state) {
    (void)state;
    train_fails(make_data("dims", 64, 10, 9), NULL, "train-images-idx3-ubyte", "1x10x10");
}

static void test_label_out_of_range(void **state) {
    (void)state;
    train_fails(make_data("labels", 64, 28, 10), NULL, "train-labels-idx1-ubyte", "label 10");
}

static void test_missing_data(void **state) {
    (void)state;
    train_fails(io_path("nowhere"), NULL, "nowhere/train-images-idx3-ubyte", "");
}

static void test_bad_checkpoint(void **state) {
    (void)state;
    const char *dir = make_data("ck", 64, 28, 9);
    char err[512];
    TrainResult r;
    TrainConfig c = quick(dir, io_path("ck.st"), NULL);
    c.epochs = 1;
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    size_t n;
    unsigned char *buf = io_read(io_path("ck.st"), &n);
    io_write(io_path("trunc.st"), buf, n - 100);
    free(buf);
    train_fails(dir, io_path("trunc.st"), "trunc.st", "");
    float *p = calloc(M->num_params, 4);
    assert_int_equal(ckpt_load(io_path("trunc.st"), M, p, NULL, err, sizeof err), -1);
    io_err_has(err, "trunc.st", NULL);
    assert_int_equal(ckpt_load(io_path("absent.st"), M, p, NULL, err, sizeof err), -1);
    io_err_has(err, "absent.st", NULL);
    free(p);
}

/* A checkpoint whose metadata was tampered with: key set to value. */
static void tampered(const char *from, const char *to, const char *key, const char *value) {
    char err[512];
    float *p = calloc(M->num_params, 4);
    StMeta meta;
    st_meta_init(&meta);
    assert_int_equal(ckpt_load(from, M, p, &meta, err, sizeof err), 0);
    assert_int_equal(st_meta_set(&meta, key, value), 0);
    assert_int_equal(ckpt_save(to, M, p, NULL, NULL, &meta, err, sizeof err), 0);
    st_meta_free(&meta);
    free(p);
}

/* Metadata out of range stops a resume with the checkpoint's name: an
** epoch count beyond int (it used to train practically forever), a
** negative step, non-finite normalisation statistics. */
static void test_bad_metadata(void **state) {
    (void)state;
    const char *dir = make_data("md", 64, 28, 9);
    char err[512];
    TrainResult r;
    TrainConfig c = quick(dir, io_path("md.st"), NULL);
    c.epochs = 1;
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), 0);
    tampered(io_path("md.st"), io_path("md_epochs.st"), "epochs", "99999999999");
    train_fails(dir, io_path("md_epochs.st"), "md_epochs.st", "out-of-range");
    tampered(io_path("md.st"), io_path("md_step.st"), "step", "-4");
    train_fails(dir, io_path("md_step.st"), "md_step.st", "out-of-range");
    tampered(io_path("md.st"), io_path("md_nan.st"), "norm_mean", "nan");
    train_fails(dir, io_path("md_nan.st"), "md_nan.st", "norm_mean");
    tampered(io_path("md.st"), io_path("md_inf.st"), "norm_std", "inf");
    train_fails(dir, io_path("md_inf.st"), "md_inf.st", "norm_std");
}

/* A diverging run names the first layer whose gradient went bad. */
static void test_nonfinite(void **state) {
    (void)state;
    const char *dir = make_data("nan", 320, 28, 9);
    char err[512] = "";
    TrainResult r;
    TrainConfig c = quick(dir, io_path("nan.st"), NULL);
    c.lr = 1e4f;
    assert_int_equal(train_run(M, &c, &r, err, sizeof err), -1);
    io_err_has(err, "non-finite", "layer fc1 (fc1.weight)", NULL);
}

/* Runs a subcommand with a NULL-terminated word list; its exit status. */
static int run_cmd(int (*cmd)(const RtModel *, const char *, int, char **), ...) {
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, cmd);
    for (char *a; argc < 15 && (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    return cmd(M, "mlp", argc, argv);
}

/* predict and grads: good files work, bad ones give status 1, bad usage 2. */
static void test_commands(void **state) {
    (void)state;
    float *p = calloc(M->num_params, 4), x[4 * 784];
    char err[512], ck[600], xs[600], ys[600], yb[600], xb[600], out[600];
    M->init(p, 1);
    for (int i = 0; i < 4 * 784; i++) x[i] = (float)(i % 7) - 3.0f;
    int32_t y[4] = {0, 3, 9, 1}, ybad[4] = {0, 3, 10, 1};
    StMeta meta;
    st_meta_init(&meta);
    assert_int_equal(st_meta_set(&meta, "norm_mean", "0.3") | st_meta_set(&meta, "norm_std", "0.35"), 0);
    snprintf(ck, sizeof ck, "%s", io_path("cmd.st"));
    assert_int_equal(ckpt_save(ck, M, p, NULL, NULL, &meta, err, sizeof err), 0);
    st_meta_free(&meta);
    int64_t s4[4] = {4, 1, 28, 28}, s1[1] = {4}, sbad[4] = {4, 3, 28, 28};
    snprintf(xs, sizeof xs, "%s", io_path("x.npy"));
    snprintf(xb, sizeof xb, "%s", io_path("xbad.npy"));
    snprintf(ys, sizeof ys, "%s", io_path("y.npy"));
    snprintf(yb, sizeof yb, "%s", io_path("ybad.npy"));
    snprintf(out, sizeof out, "%s", io_path("out.npy"));
    float *big = calloc(4 * 3 * 784, 4);
    assert_int_equal(npy_save(xs, x, NPY_F32, 4, s4, err, sizeof err)
                     | npy_save(xb, big, NPY_F32, 4, sbad, err, sizeof err)
                     | npy_save(ys, y, NPY_I32, 1, s1, err, sizeof err)
                     | npy_save(yb, ybad, NPY_I32, 1, s1, err, sizeof err), 0);
    assert_int_equal(run_cmd(cmd_predict, "--weights", ck, "--input", xs, "--output", out, NULL), CLI_OK);
    NpyArray a;
    assert_int_equal(npy_load(out, &a, err, sizeof err), 0);
    assert_int_equal(a.ndim, 2);
    assert_true(a.shape[0] == 4 && a.shape[1] == 10);
    npy_free(&a);
    assert_int_equal(run_cmd(cmd_predict, "--weights", ck, "--input", xb, "--output", out, NULL), CLI_FAIL);
    assert_int_equal(run_cmd(cmd_grads, "--weights", ck, "--input", xs, "--labels", ys,
                             "--output", io_path("g.st"), NULL), CLI_OK);
    assert_int_equal(run_cmd(cmd_grads, "--weights", ck, "--input", xs, "--labels", yb,
                             "--output", io_path("g2.st"), NULL), CLI_FAIL);
    assert_int_equal(run_cmd(cmd_eval, "--weights", xs, NULL), CLI_FAIL);
    assert_int_equal(run_cmd(cmd_eval, "--weights", ck, "--bogus", NULL), CLI_USAGE);
    assert_int_equal(run_cmd(cmd_train, "--epochs", "x", NULL), CLI_USAGE);
    assert_int_equal(run_cmd(cmd_train, "--optimizer", "lbfgs", NULL), CLI_USAGE);
    /* An output that is one of the command's inputs is refused, the input kept. */
    size_t before, after;
    unsigned char *xs_bytes = io_read(xs, &before), *again;
    assert_int_equal(run_cmd(cmd_predict, "--weights", ck, "--input", xs, "--output", xs, NULL),
                     CLI_USAGE);
    assert_int_equal(run_cmd(cmd_predict, "--weights", ck, "--input", xs, "--output", ck, NULL),
                     CLI_USAGE);
    assert_int_equal(run_cmd(cmd_grads, "--weights", ck, "--input", xs, "--labels", ys,
                             "--output", ys, NULL), CLI_USAGE);
    again = io_read(xs, &after);
    assert_true(before == after && memcmp(xs_bytes, again, before) == 0);
    free(xs_bytes);
    free(again);
    free(p);
    free(big);
}

/* Out-of-range options are usage errors naming the option, not quiet
** defaults or clamps. */
static void test_option_ranges(void **state) {
    static const char *const bad[][2] = {
        {"--epochs", "0"}, {"--epochs", "-1"}, {"--epochs", "2000000"}, {"--batch", "0"},
        {"--threads", "0"}, {"--threads", "1000"}, {"--lr", "-0.1"}, {"--lr", "0"},
        {"--lr", "nan"}, {"--momentum", "-0.5"}, {"--momentum", "1"}, {"--weight-decay", "-1"},
        {"--warmup", "-5"}, {"--stop-after", "0"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(run_cmd(cmd_train, bad[i][0], bad[i][1], NULL), CLI_USAGE);
    assert_int_equal(run_cmd(cmd_eval, "--weights", "w", "--threads", "65", NULL), CLI_USAGE);
    assert_int_equal(run_cmd(cmd_predict, "--batch", "0", NULL), CLI_USAGE);
}

/* }==================================================================== */

static void test_lr_schedule(void **state) {
    (void)state;
    TrainConfig c;
    train_defaults(&c);
    c.lr = 0.1f;
    c.warmup = 10;
    assert_float_equal(train_lr(&c, 0, 110), 0.01f, 1e-7);
    assert_float_equal(train_lr(&c, 9, 110), 0.1f, 1e-7);
    assert_float_equal(train_lr(&c, 10, 110), 0.1f, 1e-7);
    assert_float_equal(train_lr(&c, 60, 110), 0.05f, 1e-6);
    assert_true(train_lr(&c, 109, 110) < 1e-4f);
    c.schedule = "step";
    c.warmup = 0;
    assert_float_equal(train_lr(&c, 49, 100), 0.1f, 1e-7);
    assert_float_equal(train_lr(&c, 50, 100), 0.01f, 1e-8);
    assert_float_equal(train_lr(&c, 75, 100), 0.001f, 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_wrong_dims),
        cmocka_unit_test(test_label_out_of_range),
        cmocka_unit_test(test_missing_data),
        cmocka_unit_test(test_bad_checkpoint),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_option_ranges),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_interrupt_resume),
    };
    return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
