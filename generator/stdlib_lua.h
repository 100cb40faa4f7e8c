/*
** stdlib_lua.h: the block library compiled into the generator (see
** tools/embed.c); looked up by require before files beside the spec.
*/
#ifndef SKIPC_STDLIB_LUA_H
#define SKIPC_STDLIB_LUA_H

typedef struct {
    const char *name;     /* module name: "skipc.blocks" */
    const char *path;     /* source path, for messages */
    const char *source;
} StdlibModule;

extern const StdlibModule stdlib_modules[];   /* ends with {0, 0, 0} */

#endif
