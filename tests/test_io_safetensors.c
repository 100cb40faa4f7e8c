/*
** test_io_safetensors.c: checkpoint round trips, strict matching against
** the expected tensors, rejection of damaged or lying files, and atomic
** replacement when a save fails or the process dies mid-write.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>

#include "io_atomic.h"
#include "io_safetensors.h"
#include "io_tmp.h"

static float wa[6] = {1, 2, 3, 4, 5, 6}, wb[4] = {-1, -2, -3, -4}, wc[1] = {42};

/* The three tensors every test saves: a [2,3], b [4], c [] (a scalar). */
static const StTensorSpec specs[3] = {
    {"layer1.a", 2, {2, 3}}, {"layer1.b", 1, {4}}, {"c", 0, {0}}};

static int save3(const char *path, float *a, char *err, size_t errlen) {
    const float *src[3] = {a, wb, wc};
    StMeta m;
    st_meta_init(&m);
    assert_int_equal(st_meta_set(&m, "step", "100"), 0);
    assert_int_equal(st_meta_set(&m, "note", "q\"b\\s\nnl \xc3\xa9"), 0);
    assert_int_equal(st_meta_set(&m, "step", "200"), 0);   /* replaces */
    int rc = st_save(path, specs, 3, src, &m, err, errlen);
    st_meta_free(&m);
    return rc;
}

static int load3(const char *path, float *a, float *b, float *c,
                 const char *extra, StMeta *m, char *err, size_t errlen) {
    float *dst[3] = {a, b, c};
    return st_load(path, specs, 3, dst, extra, m, err, errlen);
}

/* Writes u64 header length, the header text and n data bytes. */
static void make_st(const char *name, const char *json, const void *data, size_t n) {
    size_t hl = strlen(json);
    unsigned char *buf = malloc(8 + hl + n + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, json, hl);
    if (n) memcpy(buf + 8 + hl, data, n);
    io_write(io_path(name), buf, 8 + hl + n);
    free(buf);
}

static void load_fails(const char *name, const char *needle1, const char *needle2) {
    float a[6], b[4], c[1];
    char err[512] = "";
    assert_int_equal(load3(io_path(name), a, b, c, NULL, NULL, err, sizeof err), -1);
    io_err_has(err, name, needle1, needle2, NULL);
}

static void test_round_trip(void **state) {
    (void)state;
    char err[512] = "";
    const char *p = io_path("rt.safetensors");
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    assert_int_equal(io_count("rt.safetensors.tmp"), 0);
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0666 & ~mask);   /* not mkstemp's 0600 */
    float a[6], b[4], c[1];
    StMeta m;
    st_meta_init(&m);
    assert_int_equal(st_meta_set(&m, "stale", "x"), 0);
    if (load3(p, a, b, c, NULL, &m, err, sizeof err)) fail_msg("%s", err);
    assert_memory_equal(a, wa, sizeof a);
    assert_memory_equal(b, wb, sizeof b);
    assert_memory_equal(c, wc, sizeof c);
    assert_int_equal(m.n, 2);
    assert_null(st_meta_get(&m, "stale"));
    assert_string_equal(st_meta_get(&m, "step"), "200");
    assert_string_equal(st_meta_get(&m, "note"), "q\"b\\s\nnl \xc3\xa9");
    st_meta_free(&m);
    size_t n;
    unsigned char *buf = io_read(p, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    assert_int_equal(hl % 8, 0);               /* data 8-byte aligned */
    assert_int_equal(n, 8 + hl + sizeof wa + sizeof wb + sizeof wc);
    assert_int_equal(buf[8], '{');
    free(buf);
}

/* Written the way other tools write it: spaces, escapes, any order. */
static void test_foreign_layout(void **state) {
    (void)state;
    float data[11] = {0};
    for (int i = 0; i < 11; i++) data[i] = (float)i;
    make_st("foreign.st",
            "{ \"c\" : {\"data_offsets\": [40, 44], \"shape\": [], \"dtype\": \"F32\"},\n"
            "  \"__metadata__\": {\"format\": \"pt\"},\n"
            "  \"layer1\\u002eb\": {\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},"
            "  \"layer1.a\": {\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}   ",
            data, sizeof data);
    float a[6], b[4], c[1];
    char err[512] = "";
    StMeta m;
    st_meta_init(&m);
    if (load3(io_path("foreign.st"), a, b, c, NULL, &m, err, sizeof err)) fail_msg("%s", err);
    assert_memory_equal(a, data, sizeof a);
    assert_memory_equal(b, data + 6, sizeof b);
    assert_float_equal(c[0], 10.0f, 0);
    assert_string_equal(st_meta_get(&m, "format"), "pt");
    st_meta_free(&m);
}

/* Missing, unexpected and reshaped tensors are all named in one line. */
static void test_mismatch_report(void **state) {
    (void)state;
    char err[1024] = "";
    const char *p = io_path("mm.st");
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    StTensorSpec want[3] = {{"layer1.a", 2, {3, 2}}, {"layer1.x", 1, {4}}, {"c", 0, {0}}};
    float a[6], x[4], c[1], *dst[3] = {a, x, c};
    assert_int_equal(st_load(p, want, 3, dst, NULL, NULL, err, sizeof err), -1);
    io_err_has(err, "mm.st", "missing layer1.x", "unexpected layer1.b",
               "wrong shape: layer1.a is [2,3] in file, expected [3,2]", NULL);
    /* Extras under a prefix are allowed; everything wanted must be there. */
    assert_int_equal(st_load(p, specs, 1, dst, "layer1.", NULL, err, sizeof err), -1);
    io_err_has(err, "unexpected c", NULL);
    assert_null(strstr(err, "layer1.b"));
    assert_int_equal(st_load(p, specs + 1, 1, dst, "", NULL, err, sizeof err), 0);
    assert_memory_equal(a, wb, sizeof wb);
}

/* Optimizer state under "optim." is skipped by the model load and read
** by a second call. */
static void test_optimizer_prefix(void **state) {
    (void)state;
    float m1[4] = {9, 8, 7, 6};
    StTensorSpec s[4] = {specs[0], specs[1], specs[2], {"optim.m.layer1.b", 1, {4}}};
    const float *src[4] = {wa, wb, wc, m1};
    char err[512] = "";
    const char *p = io_path("opt.st");
    assert_int_equal(st_save(p, s, 4, src, NULL, err, sizeof err), 0);
    float a[6], b[4], c[1], m[4], *dst[1] = {m};
    assert_int_equal(load3(p, a, b, c, NULL, NULL, err, sizeof err), -1);
    io_err_has(err, "unexpected optim.m.layer1.b", NULL);
    assert_int_equal(load3(p, a, b, c, "optim.", NULL, err, sizeof err), 0);
    assert_int_equal(st_load(p, s + 3, 1, dst, "", NULL, err, sizeof err), 0);
    assert_memory_equal(m, m1, sizeof m);
}

static const char GOOD_TAIL[] =
    "\"layer1.b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},"
    "\"c\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[40,44]}}";

/* A header whose first tensor entry is 'a_entry', then b and c as usual. */
static void make_a(const char *name, const char *a_entry, size_t ndata) {
    char json[512];
    float data[16] = {0};
    snprintf(json, sizeof json, "{\"layer1.a\":%s,%s", a_entry, GOOD_TAIL);
    make_st(name, json, data, ndata);
}

static void test_bad_entries(void **state) {
    (void)state;
    make_a("dtype.st", "{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 44);
    load_fails("dtype.st", "tensor 'layer1.a' has dtype F16; only F32 is supported", NULL);
    make_a("size.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,24]}", 44);
    load_fails("size.st", "shape [2,3] needs 24 bytes but data_offsets span 20", NULL);
    make_a("order.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,0]}", 44);
    load_fails("order.st", "begin > end", NULL);
    make_a("past.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[40,64]}", 44);
    load_fails("past.st", "ends at byte 64, past the 44 data bytes", NULL);
    make_a("overlap.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[20,44]}", 44);
    load_fails("overlap.st", "overlap", "layer1.b");
    make_a("gap.st", "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 44);
    load_fails("gap.st", "gap in the data before tensor 'layer1.b'", NULL);
    make_a("trail.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 48);
    load_fails("trail.st", "4 trailing bytes", NULL);
    make_a("trunc.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 30);
    load_fails("trunc.st", "past the 30 data bytes", "truncated");
    make_a("dup.st", "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
           "\"c\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[44,44]}", 44);
    load_fails("dup.st", "duplicate tensor name 'c'", NULL);
    /* prod(shape)*4 overflows 64 bits: must be caught, not wrapped. */
    make_a("ovf.st", "{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
           "\"data_offsets\":[0,24]}", 44);
    load_fails("ovf.st", "too large", NULL);
}

static void test_bad_json(void **state) {
    (void)state;
    static const struct { const char *entry, *needle; } cases[] = {
        {"{\"dtype\":\"F32\",\"shape\":[2,3]}", "lacks dtype, shape or data_offsets"},
        {"{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],\"x\":1}", "unknown key"},
        {"{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", "duplicate key"},
        {"{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}", "non-negative integer"},
        {"{\"dtype\":\"F32\",\"shape\":[2,3.0],\"data_offsets\":[0,24]}", "expected an integer"},
        {"{\"dtype\":\"F32\",\"shape\":[2,03],\"data_offsets\":[0,24]}", "leading zero"},
        {"{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2,3],\"data_offsets\":[0,24]}", "too many entries"},
        {"{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24,3]}", "too many entries"},
        {"{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0]}", "two entries"},
        {"{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,99999999999999999999]}", "integer too large"},
        {"{\"dtype\":F32,\"shape\":[2,3],\"data_offsets\":[0,24]}", "expected a string"},
        {"{\"dtype\":\"F32\" \"shape\":[2,3],\"data_offsets\":[0,24]}", "expected ',' or '}'"},
        {"[1]", "tensor entry must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "json%zu.st", i);
        make_a(name, cases[i].entry, 44);
        load_fails(name, "bad header", cases[i].needle);
    }
    float d[11] = {0};
    static const struct { const char *json, *needle; } top[] = {
        {"[]", "header must be a JSON object"},
        {"{\"__metadata__\":{\"k\":1}}", "expected a string"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate __metadata__"},
        {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", "duplicate metadata key"},
        {"{\"a\x01\":{}}", "control character"},
        {"{\"a\\u0000\":{}}", "NUL character"},
        {"{\"a\\ud800\":{}}", "lone surrogate"},
        {"{\"a\\q\":{}}", "bad escape"},
        {"{\"a\\u12g4\":{}}", "bad \\u escape"},
        {"{\"a", "unterminated string"},
        {"{} x", "junk after the header object"},
        {"{\"a\" {}}", "expected ':'"},
        /* malformed UTF-8: stray continuation, truncated, overlong, surrogate, too high */
        {"{\"__metadata__\":{\"k\":\"a\x80\"}}", "invalid UTF-8"},
        {"{\"__metadata__\":{\"k\":\"\xc3\"}}", "invalid UTF-8"},
        {"{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}", "invalid UTF-8"},
        {"{\"__metadata__\":{\"k\":\"\xed\xa0\x80\"}}", "invalid UTF-8"},
        {"{\"__metadata__\":{\"k\":\"\xf4\x90\x80\x80\"}}", "invalid UTF-8"},
        {"{\"\xff\":{}}", "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "top%zu.st", i);
        make_st(name, top[i].json, d, sizeof d);
        load_fails(name, "bad header", top[i].needle);
    }
    /* No tensors at all (found by fuzzing: sorting an empty index passed
    ** NULL to qsort): a mismatch, not undefined behaviour. */
    make_st("empty.st", "{}", d, 0);
    load_fails("empty.st", "missing", NULL);
}

static void test_bad_lengths(void **state) {
    (void)state;
    unsigned char b[16] = {0};
    io_write(io_path("short.st"), b, 5);
    load_fails("short.st", "too short", NULL);
    b[5] = 1;   /* header length 2^40 */
    io_write(io_path("huge.st"), b, 16);
    load_fails("huge.st", "header length 1099511627776 exceeds the 104857600 byte limit", NULL);
    memset(b, 0, sizeof b);
    b[0] = 100;
    memcpy(b + 8, "{}", 2);
    io_write(io_path("cut.st"), b, 10);
    load_fails("cut.st", "header length 100 but only 2 bytes follow", NULL);
    b[0] = 0;
    io_write(io_path("zero.st"), b, 10);
    load_fails("zero.st", "empty header", NULL);
    load_fails("absent.st", "cannot open", NULL);
    /* Every proper prefix of a good file is refused. */
    char err[512];
    const char *p = io_path("prefix.st");
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    size_t n;
    unsigned char *good = io_read(p, &n);
    for (size_t k = 0; k < n; k++) {
        io_write(p, good, k);
        float a[6], bb[4], c[1];
        assert_int_equal(load3(p, a, bb, c, NULL, NULL, err, sizeof err), -1);
        io_err_has(err, "prefix.st", NULL);
    }
    free(good);
}

/* Random damage must never crash or read out of bounds (run under ASan). */
static void test_random_damage(void **state) {
    (void)state;
    char err[512];
    const char *p = io_path("fuzz.st");
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    size_t n;
    unsigned char *good = io_read(p, &n), *bad = malloc(n);
    uint32_t seed = 12345;
    for (int it = 0; it < 3000; it++) {
        memcpy(bad, good, n);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed = seed * 1664525u + 1013904223u;
            size_t at = (seed >> 8) % (n - 48);     /* mostly the header */
            seed = seed * 1664525u + 1013904223u;
            bad[at] = (unsigned char)(seed >> 24);
        }
        io_write(p, bad, n);
        float a[6], b[4], c[1];
        err[0] = '\0';
        if (load3(p, a, b, c, NULL, NULL, err, sizeof err)) io_err_has(err, "fuzz.st", NULL);
    }
    free(good);
    free(bad);
}

static void test_save_rejects_bad_specs(void **state) {
    (void)state;
    char err[512] = "";
    const float *src[2] = {wa, wb};
    StTensorSpec dup[2] = {{"x", 1, {6}}, {"x", 1, {4}}};
    assert_int_equal(st_save(io_path("sdup.st"), dup, 2, src, NULL, err, sizeof err), -1);
    io_err_has(err, "sdup.st", "duplicate tensor name 'x'", NULL);
    StTensorSpec neg[1] = {{"x", 1, {-6}}};
    assert_int_equal(st_save(io_path("neg.st"), neg, 1, src, NULL, err, sizeof err), -1);
    io_err_has(err, "neg.st", "bad name or shape", NULL);
    StTensorSpec meta[1] = {{"__metadata__", 1, {6}}};
    assert_int_equal(st_save(io_path("meta.st"), meta, 1, src, NULL, err, sizeof err), -1);
    assert_int_equal(io_count("sdup.st"), 0);
    assert_int_equal(io_count("meta.st"), 0);
    assert_int_equal(st_save(io_path("nodir/x.st"), dup, 1, src, NULL, err, sizeof err), -1);
    io_err_has(err, "nodir/x.st", "cannot create temporary file", NULL);
}

/* A failed write (full disk) leaves the old checkpoint byte-identical. */
static void test_failed_save_keeps_old(void **state) {
    (void)state;
    char err[512] = "";
    const char *p = io_path("keep.st");
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    size_t n0, n1;
    unsigned char *before = io_read(p, &n0);
    float changed[6] = {7, 7, 7, 7, 7, 7};
    for (long at = 0; at < (long)n0; at += 37) {
        atomic_inject_failure(at, 0);
        assert_int_equal(save3(p, changed, err, sizeof err), -1);
        io_err_has(err, "keep.st", "write failed", NULL);
        unsigned char *after = io_read(p, &n1);
        assert_int_equal(n1, n0);
        assert_memory_equal(after, before, n0);
        free(after);
        assert_int_equal(io_count("keep.st.tmp"), 0);
    }
    atomic_inject_failure(-1, 0);
    float a[6], b[4], c[1];
    assert_int_equal(load3(p, a, b, c, NULL, NULL, err, sizeof err), 0);
    assert_memory_equal(a, wa, sizeof a);
    assert_int_equal(save3(p, changed, err, sizeof err), 0);   /* hook is off */
    assert_int_equal(load3(p, a, b, c, NULL, NULL, err, sizeof err), 0);
    assert_memory_equal(a, changed, sizeof a);
    free(before);
}

/* A process killed mid-save leaves a stray temporary file, never a torn
** checkpoint. */
static void test_killed_save_keeps_old(void **state) {
    (void)state;
    char err[512] = "";
    const char *p = io_path("kill.st");
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    size_t n0, n1;
    unsigned char *before = io_read(p, &n0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        float changed[6] = {7, 7, 7, 7, 7, 7};
        atomic_inject_failure((long)n0 / 2, 1);
        save3(p, changed, err, sizeof err);
        _exit(0);   /* not reached: the hook exits with 3 */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_int_equal(io_count("kill.st.tmp."), 1);      /* the partial write */
    unsigned char *after = io_read(p, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(after, before, n0);
    float a[6], b[4], c[1];
    assert_int_equal(load3(p, a, b, c, NULL, NULL, err, sizeof err), 0);
    assert_memory_equal(a, wa, sizeof a);
    free(before);
    free(after);
}

/*
** A real SIGKILL at 50 random moments while a child saves over and over,
** alternating two contents: after every kill the file loads and holds one
** of them whole, never a mix or a torn write.
*/
static void test_sigkill_during_saves(void **state) {
    (void)state;
    char err[512] = "";
    const char *p = io_path("sigkill.st");
    float other[6] = {9, 8, 7, 6, 5, 4};
    srand(12345);
    assert_int_equal(save3(p, wa, err, sizeof err), 0);
    for (int round = 0; round < 50; round++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (int k = 0;; k++) save3(p, k % 2 ? wa : other, err, sizeof err);
        }
        struct timespec pause = {0, 200000L + (long)(rand() % 3000) * 1000L};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        float a[6], b[4], c[1];
        assert_int_equal(load3(p, a, b, c, NULL, NULL, err, sizeof err), 0);
        assert_true(memcmp(a, wa, sizeof a) == 0 || memcmp(a, other, sizeof a) == 0);
        assert_memory_equal(b, wb, sizeof b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_foreign_layout),
        cmocka_unit_test(test_mismatch_report),
        cmocka_unit_test(test_optimizer_prefix),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_save_rejects_bad_specs),
        cmocka_unit_test(test_failed_save_keeps_old),
        cmocka_unit_test(test_killed_save_keeps_old),
        cmocka_unit_test(test_sigkill_during_saves),
    };
    return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
