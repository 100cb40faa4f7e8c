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

/* Runs spec_path; returns the graph with input, output and loss set, or
** NULL after printing a diagnostic (file:line: error: ..., and a note for
** an error inside the block library). The graph owns everything it holds,
** file names of locations included; nothing outlives it, so specs run one
** after another do not affect each other. */
IrGraph *spec_run(const char *spec_path, Define *defs, int ndefs);

#endif
