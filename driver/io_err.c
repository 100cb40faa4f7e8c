/*
** io_err.c: the one-line error messages of the file readers and writers.
*/
#include "io_err.h"

#include <stdio.h>

int io_vfail(char *err, size_t errlen, const char *path, const char *fmt, va_list ap) {
    if (err && errlen > 0) {
        int k = snprintf(err, errlen, "%s: ", path);
        if (k >= 0 && (size_t)k < errlen)
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    }
    return -1;
}

int io_fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    io_vfail(err, errlen, path, fmt, ap);
    va_end(ap);
    return -1;
}
