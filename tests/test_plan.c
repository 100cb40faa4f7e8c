/*
** test_plan.c: invariants of the memory plan, checked on every model in
** specs/models.txt (run from the repository root):
**   - two arena buffers whose lifetimes intersect never share memory, so
**     no step reads a tensor that another one overwrote;
**   - every buffer lies inside the arena the header promises;
**   - every buffer a kernel call reads or writes is alive at the call's
**     step;
**   - parameters tile [0, num_params) exactly, trainable ones first.
** Links the generator's own objects, so it tests the plan that the emitter
** prints, not a copy of it.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "autodiff.h"
#include "ir.h"
#include "ops.h"
#include "passes.h"
#include "plan.h"
#include "spec_lua.h"

static int overlaps_time(const Buffer *a, const Buffer *b) {
    return a->birth <= b->death && b->birth <= a->death;
}

static int overlaps_memory(const Buffer *a, const Buffer *b) {
    return a->offset < b->offset + b->floats && b->offset < a->offset + a->floats;
}

/* Same region, both planned, alive together and sharing a float: a bug.
** Slices lie inside their roots (checked by check_slices). */
static int conflicts(const KProgram *p, const Plan *plan) {
    int bad = 0;
    for (int i = 0; i < p->nbufs; i++) {
        const Buffer *a = &p->bufs[i];
        if (a->region == REGION_EXTERNAL || a->death < 0 || a->parent >= 0) continue;
        assert_true(a->offset >= 0);
        assert_true(a->offset + a->floats <= (a->region == REGION_BATCH   ? plan->per_sample
                                              : a->region == REGION_FIXED ? plan->fixed
                                                                          : plan->scratch));
        for (int j = i + 1; j < p->nbufs; j++) {
            const Buffer *b = &p->bufs[j];
            if (b->region != a->region || b->death < 0 || b->parent >= 0) continue;
            if (overlaps_time(a, b) && overlaps_memory(a, b)) {
                printf("  %s and %s overlap in time and memory\n", a->cname, b->cname);
                bad++;
            }
        }
    }
    return bad;
}

/* A slice lies inside its parent, and the slices of one parent do not
** overlap; every kernel finds its tensors where kernels.def says. */
static void check_slices(KProgram *p) {
    for (int i = 0; i < p->nbufs; i++) {
        const Buffer *a = &p->bufs[i];
        if (a->parent < 0) continue;
        assert_true(a->slice_off >= 0);
        assert_true(a->slice_off + a->floats <= p->bufs[a->parent].floats);
        for (int j = i + 1; j < p->nbufs; j++) {
            const Buffer *b = &p->bufs[j];
            if (b->parent == a->parent)
                assert_false(a->slice_off < b->slice_off + b->floats &&
                             b->slice_off < a->slice_off + a->floats);
        }
    }
    assert_int_equal(kprog_layout(p, p->geoms, p->ngeoms, 0), 0);
}

/* Each call touches only buffers that are alive at its step. */
static void check_calls(const KProgram *p, const KList *l) {
    for (int i = 0; i < l->n; i++) {
        const KCall *c = &l->v[i];
        for (int k = 0; k < c->nargs; k++) {
            const Buffer *b;
            if (c->args[k].kind != ARG_BUF) continue;
            b = &p->bufs[c->args[k].ref];
            if (b->region == REGION_EXTERNAL) continue;
            assert_true(b->birth <= c->t && c->t <= b->death);
        }
    }
}

static void check_params(const IrGraph *g) {
    int64_t covered = 0;
    for (int i = 0; i < g->nparams; i++) {
        const IrParam *q = &g->params[i];
        int trainable = q->kind != PK_RUNNING_MEAN && q->kind != PK_RUNNING_VAR;
        if (!g->nodes[q->node]->live) continue;
        assert_true(trainable ? q->offset + q->len <= g->num_trainable
                              : q->offset >= g->num_trainable);
        for (int j = i + 1; j < g->nparams; j++) {
            const IrParam *r = &g->params[j];
            if (!g->nodes[r->node]->live) continue;
            assert_false(q->offset < r->offset + r->len && r->offset < q->offset + q->len);
        }
        covered += q->len;
    }
    assert_int_equal(covered, g->num_params);
}

/* Runs one manifest line: NAME SPEC [-D key=value]... */
static void check_model(char *line) {
    Define defs[16];
    int ndefs = 0;
    char *name = strtok(line, " \t\n"), *spec = strtok(NULL, " \t\n"), *tok;
    IrGraph *g;
    KProgram p;
    Plan plan;
    while ((tok = strtok(NULL, " \t\n")) && ndefs < 16) {
        char *kv = strcmp(tok, "-D") == 0 ? strtok(NULL, " \t\n") : tok + 2;
        char *eq = kv ? strchr(kv, '=') : NULL;
        assert_non_null(eq);
        *eq = '\0';
        defs[ndefs].key = kv;
        defs[ndefs].value = eq + 1;
        defs[ndefs++].used = 0;
    }
    g = spec_run(spec, defs, ndefs);
    assert_non_null(g);
    assert_int_equal(ir_analyze(g), 0);
    autodiff(&p, g);
    passes_run(&p, 1);
    assert_int_equal(plan_build(&plan, &p), 0);
    printf("  %-18s %5d buffers, %4d steps, %lld floats/sample\n", name, p.nbufs, p.nsteps,
           (long long)plan.per_sample);
    assert_int_equal(conflicts(&p, &plan), 0);
    check_slices(&p);
    check_calls(&p, &p.fwd);
    check_calls(&p, &p.loss);
    check_calls(&p, &p.bwd);
    check_params(g);
    kprog_free(&p);
    ir_graph_free(g);
}

static void test_manifest_plans(void **state) {
    FILE *f = fopen("specs/models.txt", "r");
    char line[512];
    int models = 0;
    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        check_model(line);
        models++;
    }
    fclose(f);
    assert_true(models >= 10);
}

/* Nothing of a spec that failed carries over to the next one run in the
** same process: it compiles as if it were the first. */
static void test_specs_independent(void **state) {
    Define bad = {"depht", "56", 0}, good = {"depth", "8", 0};
    IrGraph *g;
    (void)state;
    assert_null(spec_run("specs/resnet.lua", &bad, 1));
    assert_null(spec_run("tests/bad_specs/add_shapes.lua", NULL, 0));
    g = spec_run("specs/resnet.lua", &good, 1);
    assert_non_null(g);
    assert_int_equal(ir_analyze(g), 0);
    ir_graph_free(g);
}

/* One spec from the command line (the property tests' random ones). */
static char given[1024];

static void test_given_plan(void **state) {
    (void)state;
    check_model(given);
}

/* test_plan: every manifest model. test_plan SPEC [-D key=value]...: that
** spec alone. */
int main(int argc, char **argv) {
    const struct CMUnitTest manifest[] = {cmocka_unit_test(test_manifest_plans),
                                          cmocka_unit_test(test_specs_independent)};
    const struct CMUnitTest one[] = {cmocka_unit_test(test_given_plan)};
    if (argc < 2) return cmocka_run_group_tests_name("memory plan", manifest, NULL, NULL);
    snprintf(given, sizeof given, "given");
    for (int i = 1; i < argc; i++)
        snprintf(given + strlen(given), sizeof given - strlen(given), " %s", argv[i]);
    return cmocka_run_group_tests_name("memory plan", one, NULL, NULL);
}
