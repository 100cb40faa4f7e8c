/*
** io_err.h: the one-line error messages of the file readers and writers.
*/
#ifndef SKIPC_IO_ERR_H
#define SKIPC_IO_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes "path: <fmt...>" into err (if any) and returns -1, so a reader
** can end with 'return io_fail(err, errlen, path, "bad magic")'. */
int io_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Opens path for reading if it is a regular file: a file descriptor, or -1
** with io_fail's message. A FIFO or a device is refused without blocking
** (it is opened non-blocking and checked with fstat, so no path race). */
int io_open_regular(const char *path, char *err, size_t errlen);

/* io_open_regular as a stdio stream ("rb"), or NULL with the message. */
FILE *io_fopen_regular(const char *path, char *err, size_t errlen);

/* io_fail for callers that already hold a va_list. */
int io_vfail(char *err, size_t errlen, const char *path, const char *fmt, va_list ap);

#endif
