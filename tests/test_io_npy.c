/*
** test_io_npy.c: .npy round trips, byte-exact agreement with NumPy's
** writer, int64 narrowing, and rejection of malformed headers and data.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "io_npy.h"
#include "io_tmp.h"

/* Writes magic, version, header length, dict (newline-terminated) and data. */
static void make_npy(const char *path, int major, const char *dict,
                     const void *data, size_t n) {
    unsigned char buf[1024];
    size_t hl = strlen(dict) + 1, k = 0;
    memcpy(buf, "\x93NUMPY", 6);
    k = 6;
    buf[k++] = (unsigned char)major;
    buf[k++] = 0;
    buf[k++] = (unsigned char)hl;
    buf[k++] = (unsigned char)(hl >> 8);
    if (major >= 2) { buf[k++] = (unsigned char)(hl >> 16); buf[k++] = (unsigned char)(hl >> 24); }
    memcpy(buf + k, dict, hl - 1);
    k += hl - 1;
    buf[k++] = '\n';
    assert_true(k + n <= sizeof buf);
    if (n) memcpy(buf + k, data, n);
    io_write(path, buf, k + n);
}

static void load_fails(const char *name, const char *needle) {
    NpyArray a;
    char err[256] = "";
    assert_int_equal(npy_load(io_path(name), &a, err, sizeof err), -1);
    assert_null(a.data);
    io_err_has(err, name, needle, NULL);
}

/* NumPy's np.save(np.arange(6, dtype=np.float32).reshape(2, 3)). */
static void test_bytes_match_numpy(void **state) {
    (void)state;
    static const char head[] =
        "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, "
        "'shape': (2, 3), }";
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t shape[2] = {2, 3};
    char err[256] = "";
    assert_int_equal(npy_save(io_path("np.npy"), x, NPY_F32, 2, shape, err, sizeof err), 0);
    size_t n;
    unsigned char *buf = io_read(io_path("np.npy"), &n);
    assert_int_equal(n, 128 + sizeof x);
    assert_memory_equal(buf, head, sizeof head - 1);
    for (size_t i = sizeof head - 1; i < 127; i++) assert_int_equal(buf[i], ' ');
    assert_int_equal(buf[127], '\n');
    assert_memory_equal(buf + 128, x, sizeof x);
    free(buf);
    assert_int_equal(io_count("np.npy.tmp"), 0);
}

static void round_trip(NpyType type, int ndim, const int64_t *shape) {
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    int32_t *x = malloc(count * 4 + 4);
    for (size_t i = 0; i < count; i++) x[i] = (int32_t)(i * 2654435761u);
    char err[256] = "";
    NpyArray a;
    const char *p = io_path("rt.npy");
    assert_int_equal(npy_save(p, x, type, ndim, shape, err, sizeof err), 0);
    if (npy_load(p, &a, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(a.type, type);
    assert_int_equal(a.ndim, ndim);
    assert_int_equal(a.count, count);
    for (int i = 0; i < ndim; i++) assert_int_equal(a.shape[i], shape[i]);
    if (count) assert_memory_equal(a.data, x, count * 4);
    size_t n;
    unsigned char *buf = io_read(p, &n);
    assert_int_equal(n % 64, (count * 4) % 64);   /* data starts 64-aligned */
    free(buf);
    npy_free(&a);
    free(x);
}

static void test_round_trips(void **state) {
    (void)state;
    int64_t s1[1] = {5}, s3[3] = {2, 3, 4}, s8[8] = {1, 2, 1, 3, 1, 2, 2, 1},
            s0[2] = {0, 3};
    round_trip(NPY_F32, 0, NULL);          /* a scalar: shape () */
    round_trip(NPY_F32, 1, s1);
    round_trip(NPY_I32, 1, s1);
    round_trip(NPY_F32, 3, s3);
    round_trip(NPY_I32, 8, s8);
    round_trip(NPY_F32, 2, s0);
}

static void test_int64_narrowed(void **state) {
    (void)state;
    int64_t v[3] = {-5, 7, 2147483647};
    make_npy(io_path("i8.npy"), 1,
             "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", v, sizeof v);
    NpyArray a;
    char err[256] = "";
    assert_int_equal(npy_load(io_path("i8.npy"), &a, err, sizeof err), 0);
    assert_int_equal(a.type, NPY_I32);
    int32_t *y = a.data;
    assert_int_equal(y[0], -5); assert_int_equal(y[1], 7);
    assert_int_equal(y[2], 2147483647);
    npy_free(&a);
    v[1] = (int64_t)1 << 31;
    make_npy(io_path("i8big.npy"), 1,
             "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", v, sizeof v);
    load_fails("i8big.npy", "2147483648 at index 1 does not fit in int32");
}

/* Versions 2.0 and 3.0 have a 4-byte header length; keys in any order. */
static void test_other_versions(void **state) {
    (void)state;
    float x[2] = {1.5f, -2};
    make_npy(io_path("v2.npy"), 2,
             "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}", x, sizeof x);
    make_npy(io_path("v3.npy"), 3,
             "{'descr':'<f4','fortran_order':False,'shape':(2L,)}", x, sizeof x);
    for (int v = 0; v < 2; v++) {
        NpyArray a;
        char err[256] = "";
        if (npy_load(io_path(v ? "v3.npy" : "v2.npy"), &a, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(a.ndim, 1);
        assert_int_equal(a.shape[0], 2);
        assert_memory_equal(a.data, x, sizeof x);
        npy_free(&a);
    }
}

static void bad_dict(const char *name, const char *dict, const char *needle) {
    float x[6] = {0};
    make_npy(io_path(name), 1, dict, x, sizeof x);
    load_fails(name, needle);
}

static void test_malformed_headers(void **state) {
    (void)state;
    io_write(io_path("magic.npy"), "\x93NUMPZ\x01\x00\x02\x00{}", 12);
    load_fails("magic.npy", "bad magic");
    io_write(io_path("tiny.npy"), "\x93NU", 3);
    load_fails("tiny.npy", "bad magic");
    make_npy(io_path("ver.npy"), 4, "{}", NULL, 0);
    load_fails("ver.npy", "unsupported format version 4.0");
    bad_dict("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }",
             "fortran_order True");
    bad_dict("be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }",
             "unsupported dtype '>f4'");
    bad_dict("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
             "unsupported dtype '<f8'");
    bad_dict("shape1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
             "non-negative integers");
    bad_dict("shape2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }",
             "bad shape tuple");
    bad_dict("shape3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }",
             "non-negative integers");
    bad_dict("shape4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }",
             "bad shape tuple");
    bad_dict("shape5.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [6], }",
             "shape must be a tuple");
    bad_dict("shape9.npy", "{'descr': '<f4', 'fortran_order': False, "
             "'shape': (1,1,1,1,1,1,1,1,6), }", "more than 8 dimensions");
    bad_dict("shapebig.npy", "{'descr': '<f4', 'fortran_order': False, "
             "'shape': (99999999999999999999,), }", "too large");
    bad_dict("nokey.npy", "{'descr': '<f4', 'shape': (6,), }", "lacks");
    bad_dict("dupkey.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
             "'shape': (6,), }", "duplicate key");
    bad_dict("unkkey.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), "
             "'extra': 1}", "unknown key");
    bad_dict("unterm.npy", "{'descr': '<f4, 'fortran_order': False}", "malformed header");
    bad_dict("notdict.npy", "['<f4']", "header is not a dict");
    bad_dict("junk.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } x",
             "junk after");
}

static void test_bad_lengths(void **state) {
    (void)state;
    float x[6] = {0};
    bad_dict("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }",
             "data truncated: header promises 28 bytes, file has 24");
    bad_dict("long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
             "4 bytes of trailing data");
    /* A product that overflows, and one that merely lies: both fail
    ** before any allocation of the promised size. */
    bad_dict("over.npy", "{'descr': '<f4', 'fortran_order': False, "
             "'shape': (4294967296, 4294967296), }", "shape too large");
    bad_dict("lie.npy", "{'descr': '<f4', 'fortran_order': False, "
             "'shape': (100000, 100000), }", "data truncated");
    /* Header length beyond the end of the file. */
    unsigned char buf[32] = "\x93NUMPY\x01\x00\xff\x7f{'descr'";
    io_write(io_path("hlen.npy"), buf, 20);
    load_fails("hlen.npy", "truncated header");
    memcpy(buf, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
    io_write(io_path("hlen2.npy"), buf, 20);
    load_fails("hlen2.npy", "exceeds 1048576");
    (void)x;
}

static void test_save_errors(void **state) {
    (void)state;
    float x[1] = {0};
    int64_t bad[1] = {-1};
    char err[256] = "";
    assert_int_equal(npy_save(io_path("neg.npy"), x, NPY_F32, 1, bad, err, sizeof err), -1);
    io_err_has(err, "neg.npy", "bad shape", NULL);
    assert_int_equal(npy_save(io_path("nodir/x.npy"), x, NPY_F32, 0, NULL, err, sizeof err), -1);
    io_err_has(err, "nodir/x.npy", "temporary file", NULL);
    NpyArray a;
    assert_int_equal(npy_load(io_path("absent.npy"), &a, err, sizeof err), -1);
    io_err_has(err, "absent.npy", "cannot open", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_match_numpy),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_int64_narrowed),
        cmocka_unit_test(test_other_versions),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_save_errors),
    };
    return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
