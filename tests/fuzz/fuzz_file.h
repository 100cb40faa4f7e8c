/*
** fuzz_file.h: the one scratch file a fuzz target hands to the code under
** test. The loaders and the spec front end take paths, not buffers, so
** every input is written to a file made once per process and rewritten in
** place. It lives in a directory of its own: a spec's require looks beside
** the spec, and must find nothing there that another process left behind.
*/
#ifndef SKIPC_FUZZ_FILE_H
#define SKIPC_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[256], fuzz_path[320];
static int fuzz_fd = -1;
static volatile unsigned fuzz_sink;

static inline void fuzz_die(const char *what) {
    perror(what);
    abort();
}

static inline void fuzz_cleanup(void) {
    if (fuzz_fd >= 0) close(fuzz_fd);
    unlink(fuzz_path);
    rmdir(fuzz_dir);
}

/* Makes $TMPDIR/skipc_fuzz_XXXXXX/name (or under /tmp) and opens it. */
static inline void fuzz_open(const char *name) {
    const char *base = getenv("TMPDIR");
    if (!base || !base[0] || strlen(base) > 200) base = "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/skipc_fuzz_XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) fuzz_die(fuzz_dir);
    snprintf(fuzz_path, sizeof fuzz_path, "%s/%s", fuzz_dir, name);
    fuzz_fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fuzz_fd < 0) fuzz_die(fuzz_path);
    atexit(fuzz_cleanup);
}

/*
** Replaces the scratch file's contents with the input and returns its
** path. A failed write would test the loader on the wrong bytes, so it
** stops the run rather than go on quietly.
*/
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    if (fuzz_fd < 0) fuzz_open(name);
    if (ftruncate(fuzz_fd, 0) != 0) fuzz_die("ftruncate");
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fuzz_fd, data + done, size - done, (off_t)done);
        if (n <= 0) fuzz_die("pwrite");
        done += (size_t)n;
    }
    return fuzz_path;
}

/* Reads every byte of a result, so ASan sees a buffer shorter than its
** stated size; the sum goes to a volatile so the reads stay. */
static inline void fuzz_touch(const void *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += ((const unsigned char *)p)[i];
    fuzz_sink += s;
}

#endif
