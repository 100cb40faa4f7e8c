/*
** spec_lua.h: runs a spec script in a sandboxed Lua 5.4 state and builds
** the graph IR from the nn calls it makes.
*/
#ifndef SKIPC_SPEC_LUA_H
#define SKIPC_SPEC_LUA_H

#include "ir.h"

typedef struct {
    const char *key, *value;   /* from -D key=value */
    int used;                  /* set when the spec declares param(key, ...) */
} Define;

/*
** What a spec may use, since it is a program from someone else: Lua
** instructions (a loop that never ends), bytes of Lua memory (a table
** that grows without end) and layers. Going past one stops the spec with
** an error naming it.
*/
typedef struct {
    long long instructions;
    size_t memory;
    int layers;
} SpecLimits;

/* 1e9 instructions (a few seconds), 256 MiB, 100,000 layers. */
extern const SpecLimits spec_default_limits;

/* Runs spec_path; returns the graph with input, output and loss set, or
** NULL after printing a diagnostic (file:line: error: ..., and a note for
** an error inside the block library). The graph owns everything it holds,
** file names of locations included; nothing outlives it, so specs run one
** after another do not affect each other. */
IrGraph *spec_run(const char *spec_path, Define *defs, int ndefs);
/* The same within the given limits (spec_run uses the defaults). */
IrGraph *spec_run_limited(const char *spec_path, Define *defs, int ndefs,
                          const SpecLimits *limits);

#endif
