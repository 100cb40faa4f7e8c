/*
** shape.c: shape arithmetic shared by the ops' shape rules.
*/
#include "shape.h"

#include <stdio.h>

Shape shape3(int c, int h, int w) { Shape s = {3, {c, h, w}}; return s; }
Shape shape1(int n) { Shape s = {1, {n, 0, 0}}; return s; }

int64_t shape_numel(Shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; i++) n *= s.d[i];
    return n;
}

int shape_equal(Shape a, Shape b) {
    if (a.rank != b.rank) return 0;
    for (int i = 0; i < a.rank; i++)
        if (a.d[i] != b.d[i]) return 0;
    return 1;
}

int64_t shape_hw(Shape s) { return s.rank == 3 ? (int64_t)s.d[1] * s.d[2] : 1; }

const char *shape_str(Shape s, char *buf, size_t cap) {
    if (s.rank == 1) snprintf(buf, cap, "[%d]", s.d[0]);
    else snprintf(buf, cap, "[%d,%d,%d]", s.d[0], s.d[1], s.d[2]);
    return buf;
}

int shape_window_out(int size, int k, int stride, int pad) {
    return size + 2 * pad < k ? 0 : (size + 2 * pad - k) / stride + 1;
}

int shape_is_gate(Shape a, Shape g) {
    return a.rank == 3 && g.d[0] == a.d[0] &&
           ((g.rank == 3 && g.d[1] == 1 && g.d[2] == 1) || g.rank == 1);
}
