/*
** fuzz_safetensors.c: st_load on arbitrary bytes. A checkpoint may come
** from anyone, and its header is JSON parsed by hand (strings, escapes,
** UTF-8, integers), then checked against the file size before any data is
** read; a slip in any of that is an out-of-bounds read or a huge
** allocation. The wanted spec is one small tensor, so matching, metadata
** and the data read are reached by inputs that mutate a valid file.
*/
#include <stddef.h>
#include <stdint.h>

#include "io_safetensors.h"
#include "fuzz_file.h"

static const StTensorSpec want[] = {{"a", 2, {2, 3}}};

/* A loaded metadata table must hold readable strings. */
static void touch_meta(const StMeta *m) {
    for (int i = 0; i < m->n; i++) {
        fuzz_touch(m->items[i].key, strlen(m->items[i].key) + 1);
        fuzz_touch(m->items[i].value, strlen(m->items[i].value) + 1);
    }
}

/* The checkpoint load: any extra tensor allowed, metadata wanted. */
static void load_lenient(const char *path) {
    float a[6];
    float *const dst[] = {a};
    char err[512];
    StMeta meta;
    st_meta_init(&meta);
    if (st_load(path, want, 1, dst, "", &meta, err, sizeof err) == 0) {
        fuzz_touch(a, sizeof a);
        touch_meta(&meta);
    }
    st_meta_free(&meta);
}

/* No extras allowed and no metadata: the other side of both branches. */
static void load_strict(const char *path) {
    float a[6];
    float *const dst[] = {a};
    char err[512];
    if (st_load(path, want, 1, dst, NULL, NULL, err, sizeof err) == 0)
        fuzz_touch(a, sizeof a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("in.safetensors", data, size);
    load_lenient(path);
    load_strict(path);
    return 0;
}
