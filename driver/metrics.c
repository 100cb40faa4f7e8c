/*
** metrics.c: classifier loss and accuracy, overall and per class.
*/
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

int met_init(MetCounts *c, int num_classes) {
    memset(c, 0, sizeof *c);
    c->num_classes = num_classes;
    c->class_correct = calloc((size_t)num_classes, sizeof *c->class_correct);
    c->class_count = calloc((size_t)num_classes, sizeof *c->class_count);
    if (c->class_correct && c->class_count) return 0;
    met_free(c);
    return -1;
}

void met_free(MetCounts *c) {
    free(c->class_correct);
    free(c->class_count);
    memset(c, 0, sizeof *c);
}

void met_reset(MetCounts *c) {
    c->loss_sum = 0.0;
    c->correct = c->count = 0;
    memset(c->class_correct, 0, (size_t)c->num_classes * sizeof *c->class_correct);
    memset(c->class_count, 0, (size_t)c->num_classes * sizeof *c->class_count);
}

int met_argmax(const float *v, int k) {
    int best = 0;
    for (int i = 1; i < k; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void met_add(MetCounts *c, const float *out, const int32_t *y, int n, float loss) {
    int k = c->num_classes;
    for (int i = 0; i < n; i++) {
        int hit = met_argmax(out + (size_t)i * k, k) == y[i];
        c->correct += hit;
        c->class_correct[y[i]] += hit;
        c->class_count[y[i]]++;
    }
    c->count += n;
    c->loss_sum += (double)loss * n;
}

void met_evaluate(MetCounts *c, const RtModel *m, const float *params, float *arena,
                  int batch, const IdxDataset *ds) {
    size_t sample = (size_t)ds->c * ds->h * ds->w;
    for (int i = 0; i < ds->n; i += batch) {
        int n = ds->n - i < batch ? ds->n - i : batch;
        const float *out = m->infer(params, arena, ds->x + (size_t)i * sample, n, NULL);
        met_add(c, out, ds->y + i, n, m->loss(out, ds->y + i, n));
    }
}
