/*
** drv_util.c: small helpers shared by the model driver.
*/
#include "drv_util.h"

#include "rt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int drv_err(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

double drv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void drv_set_threads(int n) {
    rt_set_threads(n > 0 ? n : 1);   /* the runtime's workers and OpenBLAS */
}

int drv_all_finite(const float *x, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Cleared, and aligned to a cache line: the kernels' vectors are a cache
** line wide, and a model's buffers lie whole lines apart in its arena, so
** an aligned arena keeps every full vector in one line. */
float *drv_floats(size_t n, char *err, size_t errlen) {
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (n > SIZE_MAX / sizeof(float) || posix_memalign(&p, 64, bytes) != 0) {
        drv_err(err, errlen, "out of memory (%zu floats)", n);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

int drv_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
