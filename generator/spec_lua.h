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
** NULL after printing a one-line diagnostic. File names in node locations
** stay valid until spec_free_files(). */
IrGraph *spec_run(const char *spec_path, Define *defs, int ndefs);
void spec_free_files(void);

#endif
