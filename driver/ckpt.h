/*
** ckpt.h: a model's parameters and optimizer state <-> a safetensors file.
**
** Layout: one tensor per RtModel tensor, under its own name and shape
** (PyTorch's state_dict names and layouts, running statistics included);
** optimizer state per trainable tensor under "optim.<slot>.<name>", with
** PyTorch's slot names: "momentum_buffer" for SGD, "exp_avg" and
** "exp_avg_sq" for AdamW. String metadata travels alongside (model name,
** training position, recipe, normalisation, RNG state; see train.c).
*/
#ifndef SKIPC_CKPT_H
#define SKIPC_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "io_safetensors.h"
#include "rt_model.h"

#define CKPT_MAX_SLOTS 2

/* Number of state slots of optimizer "sgd" (1) or "adamw" (2); -1 otherwise. */
int ckpt_slots(const char *optim);

/* 1 if tensor t is trained (has a gradient and optimizer state). */
int ckpt_trainable(const RtParamInfo *t);

/*
** Writes params and, if optim is not NULL, its ckpt_slots(optim) state
** blocks (each num_trainable floats, laid out like the gradients) to
** path, atomically, with the metadata (may be NULL). Returns 0, or -1
** with a one-line message in err.
*/
int ckpt_save(const char *path, const RtModel *m, const float *params,
              const char *optim, float *const *state, const StMeta *meta,
              char *err, size_t errlen);

/*
** Checks, before hours of training, that a checkpoint of bytes can be
** written beside path: writes that many bytes to a new temporary file in
** the same directory and removes it. Returns 0, or -1 with a one-line
** message (an unwritable directory, a full disk, a file size limit).
*/
int ckpt_probe(const char *path, size_t bytes, char *err, size_t errlen);

/*
** Loads every model tensor into params; the file must hold exactly those
** (with their shapes) plus, optionally, "optim." entries. If the metadata
** names another model, that is reported instead. meta (may be NULL,
** otherwise initialised) receives the file's metadata. Returns 0, or -1
** with a one-line message naming the file in err.
*/
int ckpt_load(const char *path, const RtModel *m, float *params, StMeta *meta,
              char *err, size_t errlen);

/* Loads the state blocks of optimizer 'optim' (see ckpt_save). 0 or -1. */
int ckpt_load_optim(const char *path, const RtModel *m, const char *optim,
                    float *const *state, char *err, size_t errlen);

/* Sets key to a printf-formatted value. 0 or -1 (out of memory). */
int ckpt_meta_setf(StMeta *meta, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
** Reads metadata key as a number ('l' long, 'f' float, 'x' 64-bit hex).
** Returns 0, or -1 with "path: metadata key missing or malformed" in err.
*/
int ckpt_meta_long(const StMeta *meta, const char *key, long *out,
                   const char *path, char *err, size_t errlen);
int ckpt_meta_float(const StMeta *meta, const char *key, float *out,
                    const char *path, char *err, size_t errlen);
int ckpt_meta_hex(const StMeta *meta, const char *key, uint64_t *out,
                  const char *path, char *err, size_t errlen);

#endif
