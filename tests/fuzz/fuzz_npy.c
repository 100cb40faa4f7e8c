/*
** fuzz_npy.c: npy_load on arbitrary bytes. The header is a Python dict
** literal read by a small hand-written parser, and its shape decides the
** allocation; a bad length, shape or descr must end in an error, and a
** good file must come back with prod(shape) readable 4-byte elements
** (int64 data narrowed in place).
*/
#include <stddef.h>
#include <stdint.h>

#include "io_npy.h"
#include "fuzz_file.h"

/* What a successful load promises its caller. */
static void check_loaded(const NpyArray *a) {
    size_t count = 1;
    if (a->ndim < 0 || a->ndim > NPY_MAX_NDIM) abort();
    if (a->type != NPY_F32 && a->type != NPY_I32) abort();
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] < 0) abort();
        count *= (size_t)a->shape[i];
    }
    if (count != a->count || !a->data) abort();
    fuzz_touch(a->data, a->count * 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("in.npy", data, size);
    NpyArray a;
    char err[512];
    if (npy_load(path, &a, err, sizeof err) == 0) check_loaded(&a);
    else if (a.data || a.count) abort();   /* a failure leaves 'out' empty */
    npy_free(&a);
    return 0;
}
