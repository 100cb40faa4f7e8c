/*
** ckpt.c: RtModel parameters and optimizer state <-> safetensors.
*/
#include "ckpt.h"
#include "drv_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Slot names per optimizer, PyTorch's optimizer state keys. */
static const char *const SGD_SLOTS[] = {"momentum_buffer"};
static const char *const ADAMW_SLOTS[] = {"exp_avg", "exp_avg_sq"};

int ckpt_slots(const char *optim) {
    if (optim && !strcmp(optim, "sgd")) return 1;
    if (optim && !strcmp(optim, "adamw")) return 2;
    return -1;
}

static const char *const *slot_names(const char *optim) {
    return !strcmp(optim, "sgd") ? SGD_SLOTS : ADAMW_SLOTS;
}

int ckpt_trainable(const RtParamInfo *t) {
    return t->kind != RT_PARAM_RUNNING_MEAN && t->kind != RT_PARAM_RUNNING_VAR;
}

static void spec_of(StTensorSpec *s, const RtParamInfo *t, const char *name) {
    memset(s, 0, sizeof *s);
    s->name = name;
    s->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) s->shape[d] = t->shape[d];
}

/* Frees the names that optim_specs allocated. */
static void free_names(StTensorSpec *spec, int from, int to) {
    for (int i = from; i < to; i++) free((char *)spec[i].name);
}

/*
** Appends one spec (and source/destination pointer) per trainable tensor
** and state slot, starting at spec[k]. Returns the new count, or -1 (out
** of memory, names freed).
*/
static int optim_specs(StTensorSpec *spec, float **ptr, int k, const RtModel *m,
                       const char *optim, float *const *state) {
    int k0 = k;
    for (int s = 0; s < ckpt_slots(optim); s++)
        for (int i = 0; i < m->num_tensors; i++) {
            const RtParamInfo *t = &m->tensors[i];
            if (!ckpt_trainable(t)) continue;
            size_t len = strlen(slot_names(optim)[s]) + strlen(t->name) + 8;
            char *name = malloc(len);
            if (!name) { free_names(spec, k0, k); return -1; }
            snprintf(name, len, "optim.%s.%s", slot_names(optim)[s], t->name);
            spec_of(&spec[k], t, name);
            ptr[k++] = state[s] + t->offset;
        }
    return k;
}

/* Room for every model tensor and all optimizer slots. */
static int alloc_specs(const RtModel *m, StTensorSpec **spec, float ***ptr,
                       char *err, size_t errlen) {
    size_t n = (size_t)m->num_tensors * (1 + CKPT_MAX_SLOTS);
    *spec = calloc(n, sizeof **spec);
    *ptr = calloc(n, sizeof **ptr);
    if (*spec && *ptr) return 0;
    free(*spec);
    free(*ptr);
    return drv_err(err, errlen, "out of memory");
}

int ckpt_save(const char *path, const RtModel *m, const float *params,
              const char *optim, float *const *state, const StMeta *meta,
              char *err, size_t errlen) {
    StTensorSpec *spec;
    float **ptr;
    if (alloc_specs(m, &spec, &ptr, err, errlen)) return -1;
    int k = 0;
    for (int i = 0; i < m->num_tensors; i++) {
        spec_of(&spec[k], &m->tensors[i], m->tensors[i].name);
        ptr[k++] = (float *)params + m->tensors[i].offset;
    }
    int n = optim ? optim_specs(spec, ptr, k, m, optim, state) : k;
    int rc = n < 0 ? drv_err(err, errlen, "%s: out of memory", path)
                   : st_save(path, spec, n, (const float *const *)ptr, meta, err, errlen);
    if (n > k) free_names(spec, k, n);
    free(spec);
    free(ptr);
    return rc;
}

int ckpt_load(const char *path, const RtModel *m, float *params, StMeta *meta,
              char *err, size_t errlen) {
    StTensorSpec *spec;
    float **ptr;
    StMeta own;
    st_meta_init(&own);
    if (alloc_specs(m, &spec, &ptr, err, errlen)) return -1;
    for (int i = 0; i < m->num_tensors; i++) {
        spec_of(&spec[i], &m->tensors[i], m->tensors[i].name);
        ptr[i] = params + m->tensors[i].offset;
    }
    char sterr[DRV_ERRLEN];
    int rc = st_load(path, spec, m->num_tensors, ptr, "optim.", &own, sterr, sizeof sterr);
    const char *name = st_meta_get(&own, "model");
    if (rc && name && strcmp(name, m->name))   /* say why the tensors differ */
        rc = drv_err(err, errlen, "%s: checkpoint is for model %s, not %s", path,
                     name, m->name);
    else if (rc)
        snprintf(err, errlen, "%s", sterr);
    if (meta) { st_meta_free(meta); *meta = own; }
    else st_meta_free(&own);
    free(spec);
    free(ptr);
    return rc;
}

int ckpt_load_optim(const char *path, const RtModel *m, const char *optim,
                    float *const *state, char *err, size_t errlen) {
    StTensorSpec *spec;
    float **ptr;
    if (ckpt_slots(optim) < 0)
        return drv_err(err, errlen, "%s: unknown optimizer '%s'", path, optim ? optim : "");
    if (alloc_specs(m, &spec, &ptr, err, errlen)) return -1;
    int n = optim_specs(spec, ptr, 0, m, optim, state);
    int rc = n < 0 ? drv_err(err, errlen, "%s: out of memory", path)
                   : st_load(path, spec, n, ptr, "", NULL, err, errlen);
    if (n > 0) free_names(spec, 0, n);
    free(spec);
    free(ptr);
    return rc;
}

int ckpt_meta_setf(StMeta *meta, const char *key, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return st_meta_set(meta, key, buf);
}

/* The value of key, or NULL after writing the standard message. */
static const char *meta_value(const StMeta *meta, const char *key,
                              const char *path, char *err, size_t errlen) {
    const char *v = st_meta_get(meta, key);
    if (!v || !*v) drv_err(err, errlen, "%s: metadata '%s' is missing", path, key);
    return v && *v ? v : NULL;
}

static int malformed(const char *path, const char *key, const char *v,
                     char *err, size_t errlen) {
    return drv_err(err, errlen, "%s: metadata '%s' is malformed: '%s'", path, key, v);
}

int ckpt_meta_long(const StMeta *meta, const char *key, long *out,
                   const char *path, char *err, size_t errlen) {
    const char *v = meta_value(meta, key, path, err, errlen);
    char *end;
    if (!v) return -1;
    errno = 0;
    *out = strtol(v, &end, 10);
    return *end || errno ? malformed(path, key, v, err, errlen) : 0;
}

int ckpt_meta_float(const StMeta *meta, const char *key, float *out,
                    const char *path, char *err, size_t errlen) {
    const char *v = meta_value(meta, key, path, err, errlen);
    char *end;
    if (!v) return -1;
    errno = 0;
    *out = strtof(v, &end);
    return *end || errno || !isfinite(*out) ? malformed(path, key, v, err, errlen) : 0;
}

int ckpt_meta_hex(const StMeta *meta, const char *key, uint64_t *out,
                  const char *path, char *err, size_t errlen) {
    const char *v = meta_value(meta, key, path, err, errlen);
    char *end;
    if (!v) return -1;
    errno = 0;
    *out = (uint64_t)strtoull(v, &end, 16);
    return *end || errno ? malformed(path, key, v, err, errlen) : 0;
}

int ckpt_probe(const char *path, size_t bytes, char *err, size_t errlen) {
    size_t len = strlen(path) + 16, left = bytes;
    char *tmp = malloc(len), zeros[65536] = {0};
    int fd, rc = 0;
    if (!tmp) return drv_err(err, errlen, "out of memory");
    snprintf(tmp, len, "%s.probeXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = drv_err(err, errlen, "%s: cannot write a checkpoint there: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    while (left > 0 && rc == 0) {
        ssize_t w = write(fd, zeros, left < sizeof zeros ? left : sizeof zeros);
        if (w <= 0)
            rc = drv_err(err, errlen, "%s: cannot write a %zu-byte checkpoint there: %s", path,
                         bytes, w < 0 ? strerror(errno) : "short write");
        else left -= (size_t)w;
    }
    if (close(fd) != 0 && rc == 0)
        rc = drv_err(err, errlen, "%s: cannot write a checkpoint there: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return rc;
}
