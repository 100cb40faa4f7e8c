/*
** io_npy.h: NumPy .npy arrays (format versions 1.0, 2.0 and 3.0), C order,
** little-endian float32 ('<f4'), int32 ('<i4') and int64 ('<i8', read only,
** converted to int32 with a range check).
*/
#ifndef SKIPC_IO_NPY_H
#define SKIPC_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_NDIM 8
/* Longest header accepted; NumPy itself refuses more than 10000 bytes
** by default, so anything larger is malformed or hostile. */
#define NPY_MAX_HEADER ((size_t)1 << 20)

typedef enum { NPY_F32, NPY_I32 } NpyType;

typedef struct {
    NpyType type;                   /* element type in memory */
    int ndim;                       /* 0 (a scalar) .. NPY_MAX_NDIM */
    int64_t shape[NPY_MAX_NDIM];
    size_t count;                   /* prod(shape); 1 for a scalar */
    void *data;                     /* float * or int32_t *, count elements */
} NpyArray;

/*
** Reads an .npy file. '<i8' data is narrowed to NPY_I32 and rejected if
** a value does not fit. Returns 0, or -1 with a one-line message naming
** the file in err; 'out' is then empty.
*/
int npy_load(const char *path, NpyArray *out, char *err, size_t errlen);
void npy_free(NpyArray *a);

/*
** Writes 'data' (count = prod(shape) elements of 'type') as a version 1.0
** file (2.0 if the header needs it), header padded so the data starts at
** a multiple of 64 bytes. The file is replaced atomically. Returns 0, or
** -1 with a message in err.
*/
int npy_save(const char *path, const void *data, NpyType type, int ndim,
             const int64_t *shape, char *err, size_t errlen);

#endif
