/*
** fuzz_idx.c: idx_load on arbitrary bytes, plain or gzip (zlib decides
** from the first bytes, so both paths are one input away). The header's
** sizes are never to be trusted: a file that lies about its dimensions
** must fail without a huge allocation, and a good one must come back with
** exactly prod(dims) readable bytes.
*/
#include <stddef.h>
#include <stdint.h>

#include "io_idx.h"
#include "fuzz_file.h"

/* What a successful load promises its caller. */
static void check_loaded(const IdxData *d) {
    size_t count = 1;
    if (d->ndim < 1 || d->ndim > IDX_MAX_NDIM) abort();
    for (int i = 0; i < d->ndim; i++) {
        if (d->dims[i] < 0) abort();
        count *= (size_t)d->dims[i];
    }
    if (count != d->count || (count && !d->data)) abort();
    fuzz_touch(d->data, d->count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("in.idx", data, size);
    IdxData d;
    char err[512];
    if (idx_load(path, &d, err, sizeof err) == 0) check_loaded(&d);
    else if (d.data || d.count) abort();   /* a failure leaves 'out' empty */
    idx_free(&d);
    return 0;
}
