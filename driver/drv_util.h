/*
** drv_util.h: small helpers shared by the model driver: one-line error
** messages, a monotonic clock, BLAS threads and float checks.
*/
#ifndef SKIPC_DRV_UTIL_H
#define SKIPC_DRV_UTIL_H

#include <stddef.h>

/* Length of every error buffer the driver passes around. */
#define DRV_ERRLEN 512

/*
** Formats a one-line message into err (printf style). Always returns -1,
** so callers can write 'return drv_err(err, errlen, ...)'.
*/
int drv_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Seconds on a monotonic clock (only differences are meaningful). */
double drv_now(void);

/*
** Pins the number of BLAS threads. The same count gives the same
** reduction order inside sgemm, hence bit-identical results run to run.
*/
void drv_set_threads(int n);

/* 1 if every one of the len floats is finite. */
int drv_all_finite(const float *x, size_t len);

/* Whether paths a and b name one existing file (hard links and symlinks
** included): an output that would replace one of the command's inputs. */
int drv_same_file(const char *a, const char *b);

/* n cleared floats aligned to 64 bytes (free() releases them); NULL (and a
** message in err) on failure. */
float *drv_floats(size_t n, char *err, size_t errlen);

#endif
