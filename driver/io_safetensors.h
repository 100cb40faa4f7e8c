/*
** io_safetensors.h: checkpoints in the safetensors format.
**
** Layout: u64 little-endian header length N, N bytes of JSON
**   {"__metadata__": {"k": "v", ...},
**    "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
** padded with spaces to a multiple of 8, then the raw little-endian data;
** offsets are relative to the end of the header.
**
** Only F32 tensors are written or read; PyTorch's batchnorm counters
** (NAME.num_batches_tracked, I64, in every torchvision state_dict) are
** accepted in a file and skipped. Loading validates the whole
** header against the file size before touching any data, so a damaged or
** hostile file cannot cause an out-of-bounds read or a huge allocation.
*/
#ifndef SKIPC_IO_SAFETENSORS_H
#define SKIPC_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_NDIM 8
#define ST_MAX_HEADER ((uint64_t)100 << 20)   /* 100 MB, as the reference */

/* A named float32 tensor as the caller has (save) or expects (load) it. */
typedef struct {
    const char *name;
    int ndim;                       /* 0 .. ST_MAX_NDIM */
    int64_t shape[ST_MAX_NDIM];
} StTensorSpec;

/* String metadata ("__metadata__"); keys are unique. */
typedef struct {
    char *key, *value;
} StMetaEntry;

typedef struct {
    int n, cap;
    StMetaEntry *items;
} StMeta;

void st_meta_init(StMeta *m);
/* Sets key to a copy of value, replacing an existing entry. 0 or -1 (OOM). */
int st_meta_set(StMeta *m, const char *key, const char *value);
/* The value for key, or NULL. */
const char *st_meta_get(const StMeta *m, const char *key);
void st_meta_free(StMeta *m);

/*
** Writes n tensors (spec[i] describing src[i]) and the metadata (may be
** NULL) to 'path', atomically: a temporary file in the same directory is
** written, fsynced and renamed over 'path', then the directory is
** fsynced. On any failure the temporary file is removed, 'path' keeps its
** old contents, and -1 is returned with a one-line message in err.
*/
int st_save(const char *path, const StTensorSpec *spec, int n,
            const float *const *src, const StMeta *meta,
            char *err, size_t errlen);

/*
** Loads the nwant tensors described by 'want' into dst[i] (each
** prod(want[i].shape) floats). Every wanted name must be in the file with
** exactly the wanted shape; a file tensor that is not wanted is an error
** unless its name starts with extra_prefix ("" allows any, NULL none), so
** e.g. optimizer state under "optim." can be loaded by a second call.
** If meta is not NULL (and initialised) it is replaced by the file's
** metadata. Returns 0, or -1 with a one-line message naming the file and
** listing every mismatch; dst is untouched unless reading the data itself
** fails.
*/
int st_load(const char *path, const StTensorSpec *want, int nwant,
            float *const *dst, const char *extra_prefix, StMeta *meta,
            char *err, size_t errlen);

#endif
