/*
** lesion_check.c: the lesion switch of a generated model (forward's drop[])
** must compute exactly what the same network generated without that
** residual branch computes with the same weights. Built by
** tests/test_lesion.sh from tests/specs/lesion.lua as lesion_full and
** lesion_cutK (block K built without its branch).
*/
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt.h"
#include "lesion_full.h"
#include CUT_HEADER

#define BATCH 3

static float *alloc_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Copies every tensor of the smaller model from the full one, by name. */
static void copy_by_name(const RtModel *to, float *pto, const RtModel *from, const float *pfrom) {
    for (int i = 0; i < to->num_tensors; i++) {
        const RtParamInfo *t = &to->tensors[i];
        int found = 0;
        for (int j = 0; j < from->num_tensors && !found; j++) {
            const RtParamInfo *f = &from->tensors[j];
            if (strcmp(t->name, f->name) != 0) continue;
            assert_int_equal(t->len, f->len);
            memcpy(pto + t->offset, pfrom + f->offset, sizeof(float) * t->len);
            found = 1;
        }
        assert_true(found);
    }
}

static void test_drop_equals_cut(void **state) {
    const RtModel *full = &lesion_full_model, *cut = &CUT_MODEL;
    size_t in = 100, out = 5;
    float *pf = alloc_floats(full->num_params), *pc = alloc_floats(cut->num_params);
    float *af = alloc_floats(RT_ARENA_FLOATS(full, BATCH)), *ac = alloc_floats(RT_ARENA_FLOATS(cut, BATCH));
    float *x = alloc_floats(in * BATCH), *kept = alloc_floats(out * BATCH);
    unsigned char drop[8] = {0};
    const float *yf, *yc;
    double diff = 0, moved = 0;
    RtRng r;
    (void)state;
    assert_int_equal(full->num_skips, 3);
    assert_int_equal(cut->num_skips, 2);
    full->init(pf, 5);
    copy_by_name(cut, pc, full, pf);
    rt_rng_seed(&r, 11);
    for (size_t i = 0; i < in * BATCH; i++) x[i] = rt_rng_normal(&r);
    memcpy(kept, full->forward(pf, af, x, BATCH, 0, NULL), sizeof(float) * out * BATCH);
    drop[CUT - 1] = 1;
    yf = full->forward(pf, af, x, BATCH, 0, drop);
    yc = cut->forward(pc, ac, x, BATCH, 0, NULL);
    for (size_t i = 0; i < out * BATCH; i++) {
        diff = fmax(diff, fabs((double)yf[i] - yc[i]));
        moved = fmax(moved, fabs((double)yf[i] - kept[i]));
    }
    printf("  cut block %d: max |lesioned - generated without branch| = %g, "
           "max change from the intact net = %g\n", CUT, diff, moved);
    assert_true(diff <= 1e-6);
    assert_true(moved > 1e-3);   /* the switch did something */
    free(pf); free(pc); free(af); free(ac); free(x); free(kept);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_drop_equals_cut)};
    return cmocka_run_group_tests_name("lesion", tests, NULL, NULL);
}
