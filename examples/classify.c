/*
** classify.c: Fashion-MNIST top-5 from a deployment build with embedded
** weights (skipc --infer --weights, named "classifier"; `make example`).
**
**   classify IMAGE.pgm     or     classify < IMAGE.pgm
**
** IMAGE: a binary PGM (P5), 28 x 28, 8 bits. No allocation: the input,
** output and arena are static arrays sized by the generated header.
*/
#include <math.h>
#include <stdio.h>

#include "classifier.h"

static const char *const classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static float x[CLASSIFIER_IN_FLOATS], y[CLASSIFIER_OUT_FLOATS];
/* CLASSIFIER_ARENA_BYTES(1) as a constant: one sample needs one scratch slice. */
static _Alignas(64) float arena[CLASSIFIER_ARENA_PER_SAMPLE + CLASSIFIER_ARENA_FIXED +
                                CLASSIFIER_ARENA_SCRATCH];

/* The PGM's pixels, normalised as in training; 0 or -1 with a message. */
static int read_pgm(FILE *f, const char *name) {
    int w, h, maxval;
    if (fscanf(f, "P5 %d %d %d", &w, &h, &maxval) != 3 || fgetc(f) == EOF) {
        fprintf(stderr, "%s: error: not a binary PGM (P5) image\n", name);
        return -1;
    }
    if ((size_t)w * (size_t)h != CLASSIFIER_IN_FLOATS || maxval != 255) {
        fprintf(stderr, "%s: error: %dx%d with maxval %d; the model takes 28x28, maxval 255\n",
                name, w, h, maxval);
        return -1;
    }
    for (size_t i = 0; i < CLASSIFIER_IN_FLOATS; i++) {
        int c = fgetc(f);
        if (c == EOF) {
            fprintf(stderr, "%s: error: truncated after %zu pixels\n", name, i);
            return -1;
        }
        x[i] = (c / 255.0f - CLASSIFIER_INPUT_MEAN) / CLASSIFIER_INPUT_STD;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "<stdin>";
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : stdin;
    int order[10];
    float top = -INFINITY, sum = 0;
    if (argc > 2 || !f) {
        fprintf(stderr, argc > 2 ? "usage: classify [IMAGE.pgm]\n" : "%s: error: cannot open it\n",
                name);
        return 2;
    }
    if (read_pgm(f, name) != 0 || classifier_predict(NULL, x, y, 1, arena) != 0) return 1;
    for (int k = 0; k < 10; k++) top = y[k] > top ? y[k] : top;
    for (int k = 0; k < 10; k++) {          /* softmax, from the largest logit */
        y[k] = expf(y[k] - top);
        sum += y[k];
        order[k] = k;
    }
    for (int i = 0; i < 5; i++)             /* the top 5, by selection */
        for (int j = i + 1; j < 10; j++)
            if (y[order[j]] > y[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    for (int i = 0; i < 5; i++) printf("%6.2f%%  %s\n", 100.0f * y[order[i]] / sum, classes[order[i]]);
    return 0;
}
