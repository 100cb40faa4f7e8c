/*
** test_shape.c: the shape arithmetic the ops' shape rules share, against
** what PyTorch computes for the same windows and broadcasts.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shape.h"

/* floor((size + 2 pad - k) / stride) + 1, as torch.nn.Conv2d and the pools. */
static void test_windows(void **state) {
    (void)state;
    assert_int_equal(shape_window_out(28, 3, 1, 1), 28);   /* same */
    assert_int_equal(shape_window_out(28, 3, 2, 1), 14);   /* halved */
    assert_int_equal(shape_window_out(7, 3, 2, 1), 4);     /* odd: rounds up */
    assert_int_equal(shape_window_out(224, 7, 2, 3), 112); /* ImageNet stem */
    assert_int_equal(shape_window_out(6, 2, 2, 0), 3);
    assert_int_equal(shape_window_out(5, 2, 1, 0), 4);
    assert_true(shape_window_out(4, 7, 1, 1) < 1);         /* does not fit */
}

static void test_gates_and_sizes(void **state) {
    Shape x = shape3(16, 8, 8);
    char buf[32];
    (void)state;
    assert_true(shape_is_gate(x, shape3(16, 1, 1)));
    assert_true(shape_is_gate(x, shape1(16)));
    assert_false(shape_is_gate(x, shape1(8)));             /* other channel count */
    assert_false(shape_is_gate(x, shape3(16, 2, 1)));
    assert_false(shape_is_gate(shape1(16), shape1(16)));   /* a vector has no planes */
    assert_int_equal(shape_numel(x), 1024);
    assert_int_equal(shape_hw(x), 64);
    assert_int_equal(shape_hw(shape1(10)), 1);
    assert_true(shape_equal(x, shape3(16, 8, 8)) && !shape_equal(x, shape3(16, 8, 4)));
    assert_string_equal(shape_str(x, buf, sizeof buf), "[16,8,8]");
    assert_string_equal(shape_str(shape1(10), buf, sizeof buf), "[10]");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_gates_and_sizes),
    };
    return cmocka_run_group_tests_name("shape", tests, NULL, NULL);
}
