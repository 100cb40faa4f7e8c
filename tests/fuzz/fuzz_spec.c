/*
** fuzz_spec.c: the spec front end on arbitrary bytes. A spec is a program
** from someone else: whatever it does (syntax errors, wrong arguments,
** pcall around failing ops, deep recursion, endless loops, huge tables),
** spec_run must end with a diagnostic or a graph, and a graph must survive
** ir_analyze. Small limits make every input end in milliseconds; the
** diagnostics go to stderr (-close_fd_mask=2 silences them).
*/
#include <stddef.h>
#include <stdint.h>

#include "ir.h"
#include "spec_lua.h"
#include "fuzz_file.h"

static const SpecLimits limits = {2000000LL, (size_t)64 << 20, 2000};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("spec.lua", data, size);
    IrGraph *g = spec_run_limited(path, NULL, 0, &limits);
    if (!g) return 0;
    if (g->input < 0 || g->output < 0) abort();   /* "input, output ... set" */
    ir_analyze(g);
    ir_graph_free(g);
    return 0;
}
