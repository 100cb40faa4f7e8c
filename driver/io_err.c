/*
** io_err.c: the one-line error messages of the file readers and writers.
*/
#include "io_err.h"

#include <stdarg.h>
#include <stdio.h>

int io_fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (err && errlen > 0) {
        int k = snprintf(err, errlen, "%s: ", path);
        va_list ap;
        va_start(ap, fmt);
        if (k >= 0 && (size_t)k < errlen)
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}
