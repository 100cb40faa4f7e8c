/*
** io_atomic.c: crash-safe file replacement (temp file, fsync, rename,
** fsync of the directory).
*/
#include "io_atomic.h"
#include "io_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long inject_after = -1;
static int inject_crash;

void atomic_inject_failure(long after_bytes, int crash) {
    inject_after = after_bytes;
    inject_crash = crash;
}

static int fail(AtomicFile *af, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    io_vfail(af->err, af->errlen, af->path, fmt, ap);
    va_end(ap);
    return -1;
}

int atomic_open(AtomicFile *af, const char *path, char *err, size_t errlen) {
    static const char suffix[] = ".tmp.XXXXXX";
    size_t n = strlen(path);
    memset(af, 0, sizeof *af);
    af->err = err;
    af->errlen = errlen;
    af->path = malloc(n + 1);
    af->tmp = malloc(n + sizeof suffix);
    if (!af->path || !af->tmp) {
        free(af->path); free(af->tmp);
        af->path = (char *)path;   /* only for the message */
        fail(af, "out of memory");
        af->path = NULL; af->tmp = NULL;
        return -1;
    }
    memcpy(af->path, path, n + 1);
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, suffix, sizeof suffix);
    int fd = mkstemp(af->tmp);
    /* mkstemp makes the file 0600; give it the mode a plain fopen would. */
    mode_t mask = umask(0);
    umask(mask);
    if (fd >= 0) fchmod(fd, 0666 & ~mask);
    if (fd < 0 || !(af->f = fdopen(fd, "wb"))) {
        fail(af, "cannot create temporary file: %s", strerror(errno));
        if (fd >= 0) { close(fd); unlink(af->tmp); }
        free(af->tmp); free(af->path);
        af->tmp = af->path = NULL;
        return -1;
    }
    return 0;
}

/* Returns how many of the n bytes the injected failure lets through. */
static size_t injected_limit(size_t n) {
    if (inject_after < 0) return n;
    if ((size_t)inject_after >= n) { inject_after -= (long)n; return n; }
    return (size_t)inject_after;
}

int atomic_write(AtomicFile *af, const void *buf, size_t n) {
    if (af->failed) return -1;
    size_t allowed = injected_limit(n);
    if (allowed < n) {
        fwrite(buf, 1, allowed, af->f);
        if (inject_crash) { fflush(af->f); _exit(3); }
        inject_after = -1;
        af->failed = 1;
        return fail(af, "write failed: %s", strerror(ENOSPC));
    }
    if (n > 0 && fwrite(buf, 1, n, af->f) != n) {
        af->failed = 1;
        return fail(af, "write failed: %s", strerror(errno));
    }
    return 0;
}

static void release(AtomicFile *af) {
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
    af->f = NULL;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    release(af);
}

/*
** fsync of the directory makes the rename itself durable; without it a
** power loss can bring back the old name after we reported success.
*/
static int sync_dir(AtomicFile *af) {
    const char *slash = strrchr(af->path, '/');
    char *dir;
    if (!slash) dir = strdup(".");
    else if (slash == af->path) dir = strdup("/");
    else dir = strndup(af->path, (size_t)(slash - af->path));
    if (!dir) return fail(af, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;
    if (fd < 0 || fsync(fd) != 0)
        rc = fail(af, "cannot sync directory %s: %s", dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

int atomic_commit(AtomicFile *af) {
    int rc = -1;
    if (af->failed) goto out;
    if (fflush(af->f) != 0) { fail(af, "write failed: %s", strerror(errno)); goto out; }
    if (fsync(fileno(af->f)) != 0) { fail(af, "fsync failed: %s", strerror(errno)); goto out; }
    FILE *f = af->f;
    af->f = NULL;
    if (fclose(f) != 0) { fail(af, "close failed: %s", strerror(errno)); goto out; }
    if (rename(af->tmp, af->path) != 0) {
        fail(af, "cannot rename %s into place: %s", af->tmp, strerror(errno));
        goto out;
    }
    free(af->tmp);
    af->tmp = NULL;   /* renamed: nothing left to remove */
    rc = sync_dir(af);
out:
    atomic_abort(af);
    return rc;
}
