/*
** shape.h: per-sample tensor shapes and the arithmetic the ops' shape
** rules share: element counts, sliding windows, broadcast gates.
*/
#ifndef SKIPC_SHAPE_H
#define SKIPC_SHAPE_H

#include <stddef.h>
#include <stdint.h>

/* {C,H,W} (rank 3) or {N} (rank 1); the batch is implicit. */
typedef struct {
    int rank;
    int d[3];
} Shape;

Shape shape3(int c, int h, int w);
Shape shape1(int n);
int64_t shape_numel(Shape s);
int shape_equal(Shape a, Shape b);
/* Pixels per channel: h*w for [C,H,W], 1 for vectors. */
int64_t shape_hw(Shape s);
/* "[16,28,28]" into buf. */
const char *shape_str(Shape s, char *buf, size_t cap);

/* Output size along one axis of a k-wide window moved by stride over size
** cells padded by pad on both sides; < 1 when the window does not fit. */
int shape_window_out(int size, int k, int stride, int pad);

/* Whether g scales a [C,H,W] tensor a per channel: [C,1,1] or [C]. */
int shape_is_gate(Shape a, Shape g);

#endif
