/*
** io_err.c: the one-line error messages of the file readers and writers.
*/
#include "io_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int io_open_regular(const char *path, char *err, size_t errlen) {
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return io_fail(err, errlen, path, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return io_fail(err, errlen, path, "not a regular file");
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

FILE *io_fopen_regular(const char *path, char *err, size_t errlen) {
    int fd = io_open_regular(path, err, errlen);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (fd >= 0 && !f) {
        io_fail(err, errlen, path, "cannot open: %s", strerror(errno));
        close(fd);
    }
    return f;
}
