/*
** io_tmp.h: scratch directories and raw file helpers for the I/O tests,
** which build good and malformed files byte by byte.
*/
#ifndef SKIPC_IO_TMP_H
#define SKIPC_IO_TMP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char io_dir[64];
static char io_pathbuf[4][512];
static int io_pathnext;

/* A path inside the scratch directory; valid for the next 3 calls too. */
static inline const char *io_path(const char *name) {
    char *p = io_pathbuf[io_pathnext++ & 3];
    snprintf(p, sizeof io_pathbuf[0], "%s/%s", io_dir, name);
    return p;
}

static inline int io_setup(void **state) {
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(io_dir, sizeof io_dir, "%s/skipc_io_XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
    return mkdtemp(io_dir) ? 0 : -1;
}

/* Removes the scratch directory and everything directly inside it. */
static inline int io_teardown(void **state) {
    (void)state;
    DIR *d = opendir(io_dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(io_path(e->d_name));
    closedir(d);
    rmdir(io_dir);
    return 0;
}

static inline void io_write(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Whole file into a malloc'ed buffer; *n gets its size. */
static inline unsigned char *io_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)sz + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

/* Files in the scratch directory whose name starts with prefix. */
static inline int io_count(const char *prefix) {
    DIR *d = opendir(io_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

/* Asserts that err mentions every one of the NULL-terminated needles,
** the file name included, and is one line. */
static inline void io_err_has(const char *err, ...) {
    va_list ap;
    va_start(ap, err);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(err, s)) fail_msg("error \"%s\" lacks \"%s\"", err, s);
    va_end(ap);
    if (strchr(err, '\n')) fail_msg("error \"%s\" spans lines", err);
}

#endif
