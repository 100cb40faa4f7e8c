/*
** io_atomic.h: write a file so that readers see either the old file or
** the complete new one, never a torn mix (checkpoints must survive a
** crash or a full disk in the middle of a save).
**
**   AtomicFile af;
**   if (atomic_open(&af, path, err, errlen)) return -1;
**   atomic_write(&af, buf, n); ...        (failures are remembered)
**   return atomic_commit(&af);            (or atomic_abort(&af))
*/
#ifndef SKIPC_IO_ATOMIC_H
#define SKIPC_IO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f;            /* the temporary file, NULL once closed */
    char *tmp;          /* "<path>.tmp.XXXXXX", same directory as path */
    char *path;         /* final name */
    int failed;         /* a write failed; commit will refuse */
    char *err;          /* caller's error buffer, one line */
    size_t errlen;
} AtomicFile;

/*
** Creates a temporary file next to 'path'. Returns 0, or -1 with a
** message naming 'path' in err.
*/
int atomic_open(AtomicFile *af, const char *path, char *err, size_t errlen);

/*
** Appends n bytes. Returns 0, or -1 (message in the caller's err) on the
** first failure; later writes do nothing and also return -1.
*/
int atomic_write(AtomicFile *af, const void *buf, size_t n);

/*
** Flushes and fsyncs the temporary file, renames it over 'path' and
** fsyncs the directory. Returns 0; on any failure (including an earlier
** write failure) removes the temporary file, leaves 'path' untouched and
** returns -1. Always releases 'af'.
*/
int atomic_commit(AtomicFile *af);

/* Discards the temporary file and releases 'af'. */
void atomic_abort(AtomicFile *af);

/*
** Test hook: after 'after_bytes' more bytes have been written through
** any AtomicFile, the next write fails as a full disk would (crash == 0)
** or the process dies on the spot with _exit(3) (crash != 0), as a kill
** would. after_bytes < 0 disables the hook.
*/
void atomic_inject_failure(long after_bytes, int crash);

#endif
