/*
** test_io_idx.c: IDX reading (plain and gzip), rejection of malformed and
** hostile files, dataset pairs, and the real Fashion-MNIST test set.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <zlib.h>

#include "io_idx.h"
#include "io_tmp.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* Builds an IDX file image in buf: header then 'payload' bytes. */
static size_t make_idx(unsigned char *buf, int type, int ndim,
                       const uint32_t *dims, const void *payload, size_t n) {
    size_t k = 0;
    buf[k++] = 0; buf[k++] = 0; buf[k++] = (unsigned char)type;
    buf[k++] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        buf[k++] = (unsigned char)(dims[i] >> 24); buf[k++] = (unsigned char)(dims[i] >> 16);
        buf[k++] = (unsigned char)(dims[i] >> 8);  buf[k++] = (unsigned char)dims[i];
    }
    memcpy(buf + k, payload, n);
    return k + n;
}

static void write_gz(const char *path, const void *buf, size_t n) {
    gzFile gz = gzopen(path, "wb9");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, buf, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* Writes a 3x2x2 image file and a 3-label file, plain or gzip. */
static void write_pair(const char *ip, const char *lp, int gz, int nlabels,
                       uint8_t bad_label) {
    uint8_t px[12] = {0, 255, 51, 102, 1, 2, 3, 4, 250, 251, 252, 253};
    uint8_t lb[4] = {0, 9, bad_label, 1};
    unsigned char buf[64];
    uint32_t idims[3] = {3, 2, 2}, ldims[1] = {(uint32_t)nlabels};
    size_t n = make_idx(buf, 8, 3, idims, px, sizeof px);
    if (gz) write_gz(ip, buf, n); else io_write(ip, buf, n);
    n = make_idx(buf, 8, 1, ldims, lb, (size_t)nlabels);
    if (gz) write_gz(lp, buf, n); else io_write(lp, buf, n);
}

static void check_load_fails(const char *name, const void *buf, size_t n,
                             const char *needle) {
    const char *p = io_path(name);
    IdxData d;
    char err[256] = "";
    io_write(p, buf, n);
    assert_int_equal(idx_load(p, &d, err, sizeof err), -1);
    assert_null(d.data);
    io_err_has(err, name, needle, NULL);
}

static void test_plain_and_gzip_round_trip(void **state) {
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        const char *ip = io_path(gz ? "img.gz" : "img"), *lp = io_path(gz ? "lbl.gz" : "lbl");
        write_pair(ip, lp, gz, 3, 5);
        IdxData d;
        char err[256] = "";
        assert_int_equal(idx_load(ip, &d, err, sizeof err), 0);
        assert_int_equal(d.ndim, 3);
        assert_int_equal(d.dims[0], 3);
        assert_int_equal(d.dims[1], 2);
        assert_int_equal(d.dims[2], 2);
        assert_int_equal(d.count, 12);
        assert_int_equal(d.data[1], 255);
        assert_int_equal(d.data[11], 253);
        idx_free(&d);
        assert_null(d.data);
    }
}

static void test_dataset_normalises_to_nchw(void **state) {
    (void)state;
    const char *ip = io_path("dimg.gz"), *lp = io_path("dlbl.gz");
    write_pair(ip, lp, 1, 3, 5);
    IdxDataset ds;
    char err[256] = "";
    assert_int_equal(idx_load_dataset(&ds, ip, lp, 10, 0, 0.2f, 0.5f, err, sizeof err), 0);
    assert_int_equal(ds.n, 3); assert_int_equal(ds.c, 1);
    assert_int_equal(ds.h, 2); assert_int_equal(ds.w, 2);
    assert_float_equal(ds.x[0], (0.0f - 0.2f) / 0.5f, 1e-6);
    assert_float_equal(ds.x[1], (1.0f - 0.2f) / 0.5f, 1e-6);
    assert_float_equal(ds.x[2], (0.2f - 0.2f) / 0.5f, 1e-6);
    assert_int_equal(ds.y[0], 0); assert_int_equal(ds.y[1], 9);
    assert_int_equal(ds.y[2], 5);
    idx_dataset_free(&ds);
    assert_null(ds.x);
}

static void test_dataset_rejects_mismatch(void **state) {
    (void)state;
    const char *ip = io_path("mimg"), *lp = io_path("mlbl");
    IdxDataset ds;
    char err[256] = "";
    write_pair(ip, lp, 0, 4, 5);
    assert_int_equal(idx_load_dataset(&ds, ip, lp, 10, 0, 0, 1, err, sizeof err), -1);
    io_err_has(err, "mlbl", "4 labels for 3 images", NULL);
    assert_null(ds.x);
    write_pair(ip, lp, 0, 3, 10);
    assert_int_equal(idx_load_dataset(&ds, ip, lp, 10, 0, 0, 1, err, sizeof err), -1);
    io_err_has(err, "mlbl", "label 10 at index 2", "num_classes 10", NULL);
    write_pair(ip, lp, 0, 3, 5);
    assert_int_equal(idx_load_dataset(&ds, lp, lp, 10, 0, 0, 1, err, sizeof err), -1);
    io_err_has(err, "mlbl", "images must have 3 dimensions", NULL);
    assert_int_equal(idx_load_dataset(&ds, ip, ip, 10, 0, 0, 1, err, sizeof err), -1);
    io_err_has(err, "mimg", "labels must have 1 dimension", NULL);
    assert_int_equal(idx_load_dataset(&ds, ip, lp, 10, 0, 0, 0, err, sizeof err), -1);
    io_err_has(err, "std must be positive", NULL);
    assert_int_equal(idx_load_dataset(&ds, ip, io_path("nope"), 10, 0, 0, 1, err, sizeof err), -1);
    io_err_has(err, "nope", "cannot open", NULL);
}

static void test_bad_header(void **state) {
    (void)state;
    unsigned char buf[64];
    uint32_t dims[5] = {2, 2, 2, 2, 2};
    uint8_t px[4] = {0};
    make_idx(buf, 8, 1, dims, px, 2);
    buf[0] = 0x1f; buf[1] = 0x08;   /* neither IDX nor a valid gzip stream */
    check_load_fails("magic", buf, 6 + 2, "bad magic");
    size_t n = make_idx(buf, 0x0D, 1, dims, px, 2);   /* float32 elements */
    check_load_fails("type", buf, n, "element type 0x0d");
    n = make_idx(buf, 8, 0, dims, px, 0);
    check_load_fails("ndim0", buf, n, "0 dimensions");
    n = make_idx(buf, 8, 5, dims, px, 4);
    check_load_fails("ndim5", buf, n, "5 dimensions");
    check_load_fails("short", buf, 3, "truncated header");
    n = make_idx(buf, 8, 3, dims, px, 0);
    check_load_fails("shortdims", buf, n - 2, "truncated header");
    check_load_fails("empty", buf, 0, "truncated header");
}

static void test_truncated_and_trailing(void **state) {
    (void)state;
    unsigned char buf[64];
    uint32_t dims[1] = {10};
    uint8_t px[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    size_t n = make_idx(buf, 8, 1, dims, px, 7);
    check_load_fails("trunc", buf, n, "truncated data: header promises 10 bytes, file has 7");
    n = make_idx(buf, 8, 1, dims, px, 11);
    check_load_fails("trail", buf, n, "trailing data");
}

/* A header promising gigabytes must fail fast without allocating them. */
static void test_absurd_sizes(void **state) {
    (void)state;
    unsigned char buf[64];
    uint8_t px[8] = {0};
    uint32_t huge[1] = {0xffffffffu};
    size_t n = make_idx(buf, 8, 1, huge, px, 8);
    check_load_fails("huge", buf, n, "too large");
    uint32_t over[3] = {65536, 65536, 65536};   /* product overflows 2^32 */
    n = make_idx(buf, 8, 3, over, px, 8);
    check_load_fails("over", buf, n, "too large");
    uint32_t lie[3] = {60000, 200, 200};         /* 2.4 GB promised, 8 present */
    n = make_idx(buf, 8, 3, lie, px, 8);
    check_load_fails("lie", buf, n, "truncated data");
}

static void test_truncated_and_corrupt_gzip(void **state) {
    (void)state;
    unsigned char raw[4096 + 16], *gz;
    uint32_t dims[1] = {4096};
    uint8_t px[4096];
    for (int i = 0; i < 4096; i++) px[i] = (uint8_t)(i * 7 + i / 13);
    size_t n = make_idx(raw, 8, 1, dims, px, sizeof px), gn;
    const char *good = io_path("g.gz");
    write_gz(good, raw, n);
    gz = io_read(good, &gn);
    IdxData d;
    char err[256] = "";
    assert_int_equal(idx_load(good, &d, err, sizeof err), 0);
    assert_memory_equal(d.data, px, sizeof px);
    idx_free(&d);
    check_load_fails("cut.gz", gz, gn / 2, "unexpected end of file");
    check_load_fails("cutend.gz", gz, gn - 4, "unexpected end of file");
    gz[gn - 8] ^= 1;                    /* CRC-32 of the data */
    check_load_fails("crc.gz", gz, gn, "incorrect data check");
    gz[gn - 8] ^= 1;
    gz[gn / 2] ^= 0x55; gz[gn / 2 + 1] ^= 0xaa;
    check_load_fails("flip.gz", gz, gn, "read failed");
    free(gz);
}

static void test_missing_file(void **state) {
    (void)state;
    IdxData d;
    char err[256] = "";
    assert_int_equal(idx_load(io_path("absent"), &d, err, sizeof err), -1);
    io_err_has(err, "absent", "cannot open", NULL);
}

static void test_fashion_mnist_test_set(void **state) {
    (void)state;
    if (access(FASHION_DIR, R_OK) != 0) skip();
    IdxDataset ds;
    char err[512] = "";
    int rc = idx_load_dataset(&ds, FASHION_DIR "/t10k-images-idx3-ubyte.gz",
                              FASHION_DIR "/t10k-labels-idx1-ubyte.gz", 10, 784,
                              0.2860f, 0.3530f, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_int_equal(ds.n, 10000);
    assert_int_equal(ds.c, 1);
    assert_int_equal(ds.h, 28);
    assert_int_equal(ds.w, 28);
    int hist[10] = {0};
    double sum = 0;
    for (int i = 0; i < ds.n; i++) hist[ds.y[i]]++;
    for (size_t i = 0; i < (size_t)ds.n * 28 * 28; i++) sum += ds.x[i];
    for (int k = 0; k < 10; k++) assert_int_equal(hist[k], 1000);  /* balanced */
    /* Normalised with the training mean/std, the test set is near zero. */
    assert_true(fabs(sum / (ds.n * 784.0)) < 0.05);
    idx_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_gzip_round_trip),
        cmocka_unit_test(test_dataset_normalises_to_nchw),
        cmocka_unit_test(test_dataset_rejects_mismatch),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_absurd_sizes),
        cmocka_unit_test(test_truncated_and_corrupt_gzip),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_fashion_mnist_test_set),
    };
    return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
