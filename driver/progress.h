/*
** progress.h: training progress on stderr. On a terminal one line is
** rewritten in place (epoch, step/steps, loss, accuracy, images/s, ETA);
** otherwise, as in a log file or CI, a plain line every 10% of an epoch.
*/
#ifndef SKIPC_PROGRESS_H
#define SKIPC_PROGRESS_H

typedef struct {
    int enabled, tty;
    int epoch, epochs, batch;
    long steps, next_mark;      /* next step that prints a plain line */
    double t0, last;            /* epoch start, last terminal redraw */
} Progress;

/* Starts an epoch of 'steps' steps of 'batch' images. enabled = 0 keeps
** every call silent (tests). */
void prog_begin(Progress *p, int enabled, int epoch, int epochs, long steps, int batch);

/* Reports that step (1-based) finished; loss and acc are running means
** over the epoch so far. Redraws at most ten times a second. */
void prog_step(Progress *p, long step, double loss, double acc);

/* Ends the epoch's line (the caller prints the summary next). */
void prog_end(Progress *p);

#endif
