/*
** spec_lua.c: the spec language. A sandboxed Lua 5.4 state (base, string,
** table and math only; require limited to the block library and files
** beside the spec) runs the script; every nn call appends a node to the
** graph, checks its shape at once and raises luaL_error on a bad argument,
** so the message carries the spec file and line.
*/
#include "spec_lua.h"
#include "ops.h"
#include "stdlib_lua.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <float.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENSOR_MT "skipc.Tensor"
#define MODEL_MT "skipc.Model"
#define SPEC_KEY "skipc.spec"
#define LOADED_KEY "skipc.loaded"

typedef struct { int node; } Tensor;

typedef struct {
    IrGraph *g;
    const char *path;          /* the spec file */
    char *dir;                 /* its directory, for require */
    Define *defs;
    int ndefs;
    char **scopes;
    int nscopes;
    int have_model;
    int pending;               /* a node made by an op call not yet finished, or -1 */
    StrMap taken;              /* every node's name and C name -> its id */
    StrMap counters;           /* "scope path|prefix" -> the next counter to try */
    char *pending_key;         /* the pending node's counter key, if it took a counter */
    int pending_k;
    SpecLimits limits;
    long long instructions;    /* run so far, in steps of HOOK_STEP */
    size_t memory;             /* bytes the Lua state holds */
    int out_of_memory;         /* an allocation went past limits.memory */
} Spec;

const SpecLimits spec_default_limits = {1000000000LL, (size_t)256 << 20, 100000};

enum { HOOK_STEP = 1000 };
/* Memory a state past its limit may still take to report the error. */
#define MEMORY_GRACE ((size_t)4 << 20)

static Spec *spec_of(lua_State *L) {
    Spec *s;
    lua_getfield(L, LUA_REGISTRYINDEX, SPEC_KEY);
    s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

/* Block-library chunks are named "=skipc.blocks"; user files "@path". */
static int is_user_source(const char *source) { return source[0] == '@'; }

/*
** From stack level 'level' outward: with user set, the innermost frame in a
** user file (the spec line that called a block); without, the frame just
** inside it (the line of the block function the user called, which tells
** a block's layers apart), or the user's frame when no library code runs.
*/
static Loc where(lua_State *L, int level, int user) {
    lua_Debug ar;
    Loc loc = {NULL, 0}, inner = {NULL, 0};
    for (; lua_getstack(L, level, &ar); level++) {
        Loc here;
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline <= 0) continue;
        here.file = ir_intern_file(spec_of(L)->g, ar.short_src);
        here.line = ar.currentline;
        if (is_user_source(ar.source)) return user || !inner.file ? here : inner;
        inner = here;
    }
    return user ? loc : inner;
}

/* Specs and modules must be regular files: a FIFO or a device would block
** the read or never end. */
static int regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) != 0 || S_ISREG(st.st_mode);   /* a missing one: load says so */
}

/* {====================================================================
** Arguments
** ===================================================================== */

static int to_int(lua_State *L, int idx, const char *fn, const char *what) {
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok) {
        if (lua_type(L, idx) == LUA_TNUMBER)
            return luaL_error(L, "%s: %s must be an integer, got %s", fn, what, lua_tostring(L, idx));
        return luaL_error(L, "%s: %s must be an integer, got %s", fn, what, luaL_typename(L, idx));
    }
    if (v < -IR_MAX_DIM || v > IR_MAX_ELEMS)
        return luaL_error(L, "%s: %s %s out of range", fn, what, lua_tostring(L, idx));
    return (int)v;
}

static int arg_int(lua_State *L, int idx, const char *fn, const char *what) {
    if (lua_isnoneornil(L, idx)) return luaL_error(L, "%s: missing %s", fn, what);
    return to_int(L, idx, fn, what);
}

/* Rejects option keys the op does not know: a typo must not pass silently. */
static void check_opts_impl(lua_State *L, int idx, const char *fn, const char *const *allowed,
                            int array_ok) {
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int known = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (const char *const *a = allowed; *a; a++) known |= strcmp(*a, lua_tostring(L, -1)) == 0;
        if (!known && array_ok && lua_isinteger(L, -1)) known = 1;
        if (!known)
            luaL_error(L, "%s: unknown option '%s'", fn, lua_type(L, -1) == LUA_TSTRING
                       ? lua_tostring(L, -1) : luaL_typename(L, -1));
    }
}

static void check_opts(lua_State *L, int idx, const char *fn, const char *const *allowed) {
    check_opts_impl(L, idx, fn, allowed, 0);
}

static int opt_int(lua_State *L, int idx, const char *fn, const char *key, int def) {
    int v = def;
    if (lua_isnoneornil(L, idx)) return def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) v = to_int(L, -1, fn, key);
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int idx, const char *fn, const char *key, int def) {
    int v = def;
    if (lua_isnoneornil(L, idx)) return def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        if (!lua_isboolean(L, -1)) luaL_error(L, "%s: %s must be true or false", fn, key);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A number an op stores as a float: finite, and finite as a float too. */
static float to_float(lua_State *L, int idx, const char *fn, const char *what) {
    double v;
    if (lua_type(L, idx) != LUA_TNUMBER) luaL_error(L, "%s: %s must be a number", fn, what);
    v = lua_tonumber(L, idx);
    if (!isfinite(v) || fabs(v) > FLT_MAX)
        luaL_error(L, "%s: %s must be a finite number (float range), got %s", fn, what,
                   isnan(v) ? "NaN" : lua_tostring(L, idx));
    return (float)v;
}

static float opt_num(lua_State *L, int idx, const char *fn, const char *key, float def) {
    float v = def;
    if (lua_isnoneornil(L, idx)) return def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) v = to_float(L, -1, fn, key);
    lua_pop(L, 1);
    return v;
}

/*
** A layer or scope name: 1 to IR_MAX_NAME printable ASCII characters.
** Names reach the generated C (comments, strings, identifiers), which
** escapes them anyway; this keeps them readable there and in every tool.
*/
static void check_name(lua_State *L, int idx, const char *fn, const char *what) {
    size_t len;
    const char *s;
    if (lua_type(L, idx) != LUA_TSTRING || lua_rawlen(L, idx) == 0)
        luaL_error(L, "%s: %s must be a non-empty string", fn, what);
    s = lua_tolstring(L, idx, &len);
    if (len > IR_MAX_NAME)
        luaL_error(L, "%s: %s is %d characters long, more than %d", fn, what, (int)len,
                   IR_MAX_NAME);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            luaL_error(L, "%s: %s may hold printable ASCII characters only (byte %d is %d)", fn,
                       what, (int)i + 1, (int)(unsigned char)s[i]);
}

/* Copies opts.name (or NULL) into buf. */
static const char *opt_name(lua_State *L, int idx, const char *fn, char *buf, size_t cap) {
    const char *name = NULL;
    if (lua_isnoneornil(L, idx)) return NULL;
    if (lua_getfield(L, idx, "name") != LUA_TNIL) {
        check_name(L, -1, fn, "name");
        snprintf(buf, cap, "%s", lua_tostring(L, -1));
        name = buf;
    }
    lua_pop(L, 1);
    return name;
}

static int check_tensor(lua_State *L, int idx) {
    return ((Tensor *)luaL_checkudata(L, idx, TENSOR_MT))->node;
}

static int is_tensor(lua_State *L, int idx) {
    return luaL_testudata(L, idx, TENSOR_MT) != NULL;
}

/* }==================================================================== */

/* {====================================================================
** Node creation
** ===================================================================== */

static Str scope_path(Spec *s, const char *local) {
    Str p = {0};
    for (int i = 0; i < s->nscopes; i++) str_addf(&p, "%s.", s->scopes[i]);
    str_add(&p, local);
    return p;
}

/* Whether the layer name full (or its C form) is taken: its node, or NULL. */
static const IrNode *taken_by(Spec *s, const char *full, char **cname) {
    int *id = strmap_get(&s->taken, full);
    *cname = ir_cname(full);
    if (!id) id = strmap_get(&s->taken, *cname);
    return id ? s->g->nodes[*id] : NULL;
}

/* Stops the spec when a layer's full name is too long for the tables. */
static void check_path(lua_State *L, OpKind op, Str *full) {
    char msg[128];
    if (full->len <= IR_MAX_PATH) return;
    snprintf(msg, sizeof msg, "layer name %.40s... is %d characters long, more than %d", full->buf,
             (int)full->len, IR_MAX_PATH);
    str_free(full);
    luaL_error(L, "%s: %s", op_names[op], msg);
}

/*
** Full scope path of a new node: the explicit name, which must be unused,
** or the op's prefix with the first free counter in this scope (conv1,
** conv2, ...), so names do not depend on layers elsewhere in the spec.
** Counters resume where the scope's last one stopped and names are looked
** up in a hash map, so naming n layers takes time linear in n.
*/
static char *node_name(lua_State *L, Spec *s, OpKind op, const char *explicit_name) {
    Str key = scope_path(s, "|");
    int *next;
    str_add(&key, op_prefixes[op]);
    next = explicit_name ? NULL : strmap_get(&s->counters, key.buf);
    for (int k = next ? *next : 1;; k++) {
        char local[256], *cname;
        Str full;
        const IrNode *clash;
        if (explicit_name) snprintf(local, sizeof local, "%s", explicit_name);
        else snprintf(local, sizeof local, "%s%d", op_prefixes[op], k);
        full = scope_path(s, local);
        if (full.len > IR_MAX_PATH) str_free(&key);
        check_path(L, op, &full);
        clash = taken_by(s, full.buf, &cname);
        free(cname);
        if (!clash) {
            if (!explicit_name) {
                strmap_put(&s->counters, key.buf, k + 1);
                free(s->pending_key);
                s->pending_key = xstrdup(key.buf);
                s->pending_k = k;
            }
            str_free(&key);
            return full.buf;
        }
        if (explicit_name) {
            char msg[1024];
            snprintf(msg, sizeof msg, "name '%s' is already used by the layer made at %s:%d",
                     full.buf, clash->user_loc.file, clash->user_loc.line);
            str_free(&full);
            str_free(&key);
            luaL_error(L, "%s: %s", op_names[op], msg);
        }
        str_free(&full);
    }
}

/* A node an op call made but did not finish (its arguments or shape were
** wrong, and a pcall in the spec caught the error) goes, so it neither
** takes a name nor stays in the graph. */
static void drop_pending(Spec *s) {
    const IrNode *n;
    if (s->pending < 0) return;
    n = s->g->nodes[s->pending];
    strmap_del(&s->taken, n->name);
    strmap_del(&s->taken, n->cname);
    if (s->pending_key) {
        int *next = strmap_get(&s->counters, s->pending_key);
        if (next && *next > s->pending_k) *next = s->pending_k;
    }
    ir_node_drop_last(s->g);
    s->pending = -1;
}

static IrNode *new_node(lua_State *L, OpKind op, const int *src, int nsrc, const char *name) {
    Spec *s = spec_of(L);
    char *full;
    IrNode *n;
    drop_pending(s);
    if (s->g->nnodes >= s->limits.layers)
        luaL_error(L, "%s: the spec makes more than %d layers (skipc --max-layers raises the limit)",
                   op_names[op], s->limits.layers);
    free(s->pending_key);
    s->pending_key = NULL;
    full = node_name(L, s, op, name);
    n = ir_node_new(s->g, op, src, nsrc, full, where(L, 1, 0), where(L, 1, 1));
    strmap_put(&s->taken, n->name, n->id);
    strmap_put(&s->taken, n->cname, n->id);
    s->pending = n->id;
    free(full);
    return n;
}

static void push_tensor(lua_State *L, int node) {
    Tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    t->node = node;
    luaL_setmetatable(L, TENSOR_MT);
}

/* Runs the op's shape rule; a failure becomes a Lua error at the caller. */
static int finish(lua_State *L, IrNode *n) {
    char err[512];
    if (op_table[n->op].infer(spec_of(L)->g, n, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    spec_of(L)->pending = -1;
    push_tensor(L, n->id);
    return 1;
}

/* }==================================================================== */

/* {====================================================================
** The nn functions
** ===================================================================== */

static const char *const name_only[] = {"name", NULL};

static int l_input(lua_State *L) {
    static const char *const allowed[] = {"name", NULL};
    char nb[256];
    const char *name;
    Shape sh = {0, {0, 0, 0}};
    IrNode *n;
    luaL_checktype(L, 1, LUA_TTABLE);
    check_opts(L, 2, "input", allowed);
    sh.rank = (int)lua_rawlen(L, 1);
    if (sh.rank != 1 && sh.rank != 3)
        return luaL_error(L, "input: expected {C,H,W} or {N}, got %d dimensions", sh.rank);
    for (int i = 0; i < sh.rank; i++) {
        lua_rawgeti(L, 1, i + 1);
        sh.d[i] = to_int(L, -1, "input", "dimension");
        lua_pop(L, 1);
    }
    name = opt_name(L, 2, "input", nb, sizeof nb);
    n = new_node(L, OP_INPUT, NULL, 0, name ? name : "input");
    n->shape = sh;
    return finish(L, n);
}

/* The op a generic binding serves: its closure's upvalue. */
static OpKind op_here(lua_State *L) { return (OpKind)lua_tointeger(L, lua_upvalueindex(1)); }

/* Ops that take a tensor and an optional {name=} table. */
static int unary(lua_State *L, OpKind op) {
    int x = check_tensor(L, 1);
    char nb[256];
    check_opts(L, 2, op_names[op], name_only);
    return finish(L, new_node(L, op, &x, 1, opt_name(L, 2, op_names[op], nb, sizeof nb)));
}

static int l_unary(lua_State *L) { return unary(L, op_here(L)); }

/*
** Ops called as op(x, positional..., {options}): the arguments their row
** lists (OpArg, ops.h), read in order, checked for type and range, and
** stored into the node's op arguments.
*/
static int l_args(lua_State *L) {
    enum { MAX_ARGS = 16 };
    OpKind op = op_here(L);
    const char *fn = op_names[op];
    const OpArg *args = op_table[op].args;
    const char *allowed[MAX_ARGS + 2];
    double v[MAX_ARGS];
    int x = check_tensor(L, 1), nargs = 0, nallowed = 0, pos = 2, opts;
    char nb[256];
    IrNode *n;
    for (; args[nargs].name; nargs++)
        if (!args[nargs].positional) allowed[nallowed++] = args[nargs].name;
    allowed[nallowed++] = "name";
    allowed[nallowed] = NULL;
    for (int i = 0; i < nargs; i++) pos += args[i].positional != 0;
    opts = pos;
    check_opts(L, opts, fn, allowed);
    pos = 2;
    for (int i = 0; i < nargs; i++) {
        const OpArg *a = &args[i];
        double def = a->def_from >= 0 ? v[a->def_from] : a->def;
        if (a->positional) {
            int idx = pos++;
            if (a->positional == 2 && lua_isnoneornil(L, idx)) v[i] = def;
            else if (a->type == OA_NUM) v[i] = to_float(L, idx, fn, a->name);
            else v[i] = arg_int(L, idx, fn, a->name);
        } else if (a->type == OA_INT) {
            v[i] = opt_int(L, opts, fn, a->name, (int)def);
        } else if (a->type == OA_BOOL) {
            v[i] = opt_bool(L, opts, fn, a->name, def != 0);
        } else {
            v[i] = opt_num(L, opts, fn, a->name, (float)def);
        }
    }
    n = new_node(L, op, &x, 1, opt_name(L, opts, fn, nb, sizeof nb));
    for (int i = 0; i < nargs; i++) {
        char *field = (char *)&n->a + args[i].offset;
        if (args[i].type == OA_NUM) *(float *)(void *)field = (float)v[i];
        else *(int *)(void *)field = (int)v[i];
    }
    return finish(L, n);
}

/* Ops that take two tensors and an optional {name=} table. */
static int l_binary(lua_State *L) {
    OpKind op = op_here(L);
    int src[2];
    char nb[256];
    src[0] = check_tensor(L, 1);
    src[1] = check_tensor(L, 2);
    check_opts(L, 3, op_names[op], name_only);
    return finish(L, new_node(L, op, src, 2, opt_name(L, 3, op_names[op], nb, sizeof nb)));
}

/*
** Sources of add/concat: either a list table {a, b, ...; name=...} or, for
** add, tensors as arguments optionally followed by an options table.
*/
static int gather(lua_State *L, OpKind op, int **src, int *opts_idx) {
    const char *fn = op_names[op];
    int count = 0, top = lua_gettop(L);
    if (!is_tensor(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        check_opts_impl(L, 1, fn, name_only, 1);   /* array part plus name= */
        count = (int)lua_rawlen(L, 1);
        *src = xmalloc((size_t)(count ? count : 1) * sizeof **src);
        for (int i = 0; i < count; i++) {
            lua_rawgeti(L, 1, i + 1);
            if (!is_tensor(L, -1)) {
                free(*src);
                return luaL_error(L, "%s: element %d is a %s, expected a tensor", fn, i + 1,
                                  luaL_typename(L, -1));
            }
            (*src)[i] = ((Tensor *)lua_touserdata(L, -1))->node;
            lua_pop(L, 1);
        }
        *opts_idx = 1;
        return count;
    }
    if (op == OP_CONCAT) return luaL_error(L, "concat expects a list: concat{a, b, ...}");
    *opts_idx = top > 1 && !is_tensor(L, top) && lua_istable(L, top) ? top : 0;
    count = *opts_idx ? top - 1 : top;
    *src = xmalloc((size_t)count * sizeof **src);
    for (int i = 0; i < count; i++) {
        if (!is_tensor(L, i + 1)) {
            free(*src);
            return luaL_error(L, "add: argument %d is a %s, expected a tensor", i + 1,
                              luaL_typename(L, i + 1));
        }
        (*src)[i] = ((Tensor *)lua_touserdata(L, i + 1))->node;
    }
    return count;
}

static int join(lua_State *L, OpKind op) {
    int *src = NULL, opts = 0;
    int count = gather(L, op, &src, &opts);
    char nb[256];
    const char *name = NULL;
    IrNode *n;

    if (opts) {
        check_opts_impl(L, opts, op_names[op], name_only, opts == 1);
        name = opt_name(L, opts, op_names[op], nb, sizeof nb);
    }
    n = new_node(L, op, src, count, name);
    free(src);
    return finish(L, n);
}

static int l_join(lua_State *L) { return join(L, op_here(L)); }

static int l_model(lua_State *L) {
    static const char *const allowed[] = {"input", "output", "loss", NULL};
    Spec *s = spec_of(L);
    const char *loss;
    luaL_checktype(L, 1, LUA_TTABLE);
    check_opts(L, 1, "model", allowed);
    if (s->have_model) return luaL_error(L, "model: a spec defines one model");
    if (lua_getfield(L, 1, "input") == LUA_TNIL) return luaL_error(L, "model: missing input");
    if (!is_tensor(L, -1)) return luaL_error(L, "model: input must be a tensor");
    s->g->input = ((Tensor *)lua_touserdata(L, -1))->node;
    if (!(op_table[s->g->nodes[s->g->input]->op].flags & OPF_INPUT))
        return luaL_error(L, "model: input must be a tensor made by input{...}");
    if (lua_getfield(L, 1, "output") == LUA_TNIL) return luaL_error(L, "model: missing output");
    if (!is_tensor(L, -1)) return luaL_error(L, "model: output must be a tensor");
    s->g->output = ((Tensor *)lua_touserdata(L, -1))->node;
    lua_getfield(L, 1, "loss");
    loss = lua_isnil(L, -1) ? "cross_entropy" : luaL_checkstring(L, -1);
    if (strcmp(loss, "cross_entropy") == 0) s->g->loss = LOSS_CROSS_ENTROPY;
    else if (strcmp(loss, "mse") == 0) s->g->loss = LOSS_MSE;
    else return luaL_error(L, "model: unknown loss '%s' (expected \"cross_entropy\" or \"mse\")", loss);
    s->g->model_loc = where(L, 1, 1);
    s->have_model = 1;
    lua_newtable(L);
    luaL_setmetatable(L, MODEL_MT);
    return 1;
}

static int l_scope(lua_State *L) {
    Spec *s = spec_of(L);
    const char *name;
    int base, rc;
    check_name(L, 1, "scope", "name");
    name = lua_tostring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    s->scopes = xrealloc(s->scopes, (size_t)(s->nscopes + 1) * sizeof *s->scopes);
    s->scopes[s->nscopes++] = xstrdup(name);
    lua_settop(L, 2);
    base = lua_gettop(L) - 1;
    /* The scope ends even when fn fails (a pcall in the spec may go on). */
    rc = lua_pcall(L, 0, LUA_MULTRET, 0);
    free(s->scopes[--s->nscopes]);
    if (rc != LUA_OK) return lua_error(L);
    return lua_gettop(L) - base;
}

/* Converts a -D string to the type of the declared default. */
static void push_define(lua_State *L, const Define *d, int type) {
    if (type == LUA_TNUMBER) {
        if (!lua_stringtonumber(L, d->value))
            luaL_error(L, "param: -D %s=%s is not a number", d->key, d->value);
    } else if (type == LUA_TBOOLEAN) {
        int t = strcmp(d->value, "true") == 0 || strcmp(d->value, "1") == 0;
        if (!t && strcmp(d->value, "false") != 0 && strcmp(d->value, "0") != 0)
            luaL_error(L, "param: -D %s=%s is not true or false", d->key, d->value);
        lua_pushboolean(L, t);
    } else {
        lua_pushstring(L, d->value);
    }
}

static int l_param(lua_State *L) {
    Spec *s = spec_of(L);
    const char *key = luaL_checkstring(L, 1);
    int type = lua_type(L, 2);
    if (type != LUA_TNUMBER && type != LUA_TBOOLEAN && type != LUA_TSTRING)
        return luaL_error(L, "param: default of '%s' must be a number, boolean or string", key);
    for (int i = 0; i < s->ndefs; i++) {
        if (strcmp(s->defs[i].key, key) != 0) continue;
        s->defs[i].used = 1;
        push_define(L, &s->defs[i], type);
        return 1;
    }
    lua_settop(L, 2);
    return 1;
}

/* }==================================================================== */

/* {====================================================================
** Tensor metatable
** ===================================================================== */

static int t_index(lua_State *L) {
    int node = check_tensor(L, 1);
    const char *key = luaL_checkstring(L, 2);
    const IrNode *n = spec_of(L)->g->nodes[node];
    if (strcmp(key, "shape") == 0) {
        lua_createtable(L, n->shape.rank, 0);
        for (int i = 0; i < n->shape.rank; i++) {
            lua_pushinteger(L, n->shape.d[i]);
            lua_rawseti(L, -2, i + 1);
        }
        return 1;
    }
    if (strcmp(key, "name") == 0) {
        lua_pushstring(L, n->name);
        return 1;
    }
    lua_getfield(L, lua_upvalueindex(1), key);
    if (lua_isnil(L, -1)) return luaL_error(L, "tensor has no field or method '%s'", key);
    return 1;
}

static int t_tostring(lua_State *L) {
    const IrNode *n = spec_of(L)->g->nodes[check_tensor(L, 1)];
    char b[64];
    lua_pushfstring(L, "tensor %s %s", n->name, shape_str(n->shape, b, sizeof b));
    return 1;
}

/* What the spec language calls besides the ops. */
static const luaL_Reg nn_funcs[] = {
    {"model", l_model},
    {"param", l_param},
    {"scope", l_scope},
    {NULL, NULL}
};

/* Every op's binding, method and operator sugar, from its row of ops.def. */
static const struct {
    const char *name;
    lua_CFunction bind;
    int method;
    const char *meta;
} op_bindings[OP_COUNT] = {
#define OP(id, name, prefix, bind, method, meta) [OP_##id] = {name, bind, method, meta},
#include "ops.def"
#undef OP
};

/* Pushes op's binding: a closure that knows its op. */
static void push_binding(lua_State *L, int op) {
    lua_pushinteger(L, op);
    lua_pushcclosure(L, op_bindings[op].bind, 1);
}

/* The ops as globals, and the tensor metatable: methods (x:relu(),
** x:conv2d(16, 3)), operator sugar (a + b), shape and name. */
static void open_ops(lua_State *L) {
    for (int op = 0; op < OP_COUNT; op++) {
        push_binding(L, op);
        lua_setglobal(L, op_bindings[op].name);
    }
    luaL_newmetatable(L, TENSOR_MT);
    lua_newtable(L);                      /* methods */
    for (int op = 0; op < OP_COUNT; op++) {
        if (!op_bindings[op].method) continue;
        push_binding(L, op);
        lua_setfield(L, -2, op_bindings[op].name);
    }
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -2, "__index");
    for (int op = 0; op < OP_COUNT; op++) {
        if (!op_bindings[op].meta) continue;
        push_binding(L, op);
        lua_setfield(L, -2, op_bindings[op].meta);
    }
    lua_pushcfunction(L, t_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_newmetatable(L, MODEL_MT);
    lua_pop(L, 1);
}

/* }==================================================================== */

/* {====================================================================
** Sandbox and require
** ===================================================================== */

static int valid_module_name(const char *name) {
    if (!name[0] || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || (*p == '.' && p[1] != '.' && p[1] != '\0')))
            return 0;
    return 1;
}

/* Loads a module chunk (text only) onto the stack; errors are Lua errors. */
static void load_module(lua_State *L, const char *name) {
    Spec *s = spec_of(L);
    Str path = {0};
    int rc;
    for (const StdlibModule *m = stdlib_modules; m->name; m++) {
        if (strcmp(m->name, name) != 0) continue;
        lua_pushfstring(L, "=%s", m->path);
        rc = luaL_loadbufferx(L, m->source, strlen(m->source), lua_tostring(L, -1), "t");
        lua_remove(L, -2);
        if (rc != LUA_OK) lua_error(L);
        return;
    }
    str_addf(&path, "%s", s->dir);
    for (const char *p = name; *p; p++) str_addf(&path, "%c", *p == '.' ? '/' : *p);
    str_add(&path, ".lua");
    lua_pushstring(L, path.buf);
    str_free(&path);
    if (!regular_file(lua_tostring(L, -1)))
        luaL_error(L, "require: module '%s': %s is not a regular file", name, lua_tostring(L, -1));
    if (luaL_loadfilex(L, lua_tostring(L, -1), "t") != LUA_OK) {
        if (strstr(lua_tostring(L, -1), "cannot open"))
            luaL_error(L, "require: module '%s' not found (not in the block library, no %s)", name,
                       lua_tostring(L, -2));
        lua_error(L);
    }
    lua_remove(L, -2);
}

static int l_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    if (!valid_module_name(name)) return luaL_error(L, "require: bad module name '%s'", name);
    lua_getfield(L, LUA_REGISTRYINDEX, LOADED_KEY);
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    load_module(L, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

static void open_sandbox(lua_State *L) {
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math}, {NULL, NULL}
    };
    static const char *const removed[] = {"dofile", "loadfile", "load", NULL};
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    for (const char *const *r = removed; *r; r++) {
        lua_pushnil(L);
        lua_setglobal(L, *r);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* Every string shares one metatable: a spec may use it ("x"):rep(3),
    ** but getmetatable("") must not hand it out to be changed. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADED_KEY);
    lua_pushcfunction(L, l_require);
    lua_setglobal(L, "require");
    lua_pushglobaltable(L);
    luaL_setfuncs(L, nn_funcs, 0);
    lua_pop(L, 1);
    open_ops(L);
}

/* Whether file is a block-library chunk (compiled into the generator). */
static int is_library_file(const char *file) {
    for (const StdlibModule *m = stdlib_modules; m->name; m++)
        if (strcmp(m->path, file) == 0) return 1;
    return 0;
}

/*
** Splits a Lua message "file:line: text" into its location and text;
** returns 0 (and text = msg) when it carries no location.
*/
static int split_loc(const char *msg, char *file, size_t cap, int *line, const char **text) {
    for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
        char *end;
        long l = strtol(p + 1, &end, 10);
        if (end == p + 1 || end[0] != ':' || end[1] != ' ' || l <= 0) continue;
        snprintf(file, cap, "%.*s", (int)(p - msg), msg);
        *line = (int)l;
        *text = end + 2;
        return 1;
    }
    *text = msg;
    return 0;
}

/*
** A Lua error as GNU diagnostics: "file:line: error: text". Raised inside
** the block library, it names first the user's line that called the block
** (user), then the library's line as a note. Without any location it
** names the spec file.
*/
static char *format_error(const char *msg, Loc user, const char *spec_path) {
    char file[1024];
    int line = 0;
    const char *text;
    int located = split_loc(msg, file, sizeof file, &line, &text);
    /* a message formatted once already (an error raised while handling one,
    ** as a C stack overflow is) keeps a single "error:" */
    if (strncmp(text, "error: ", 7) == 0) text += 7;
    if (located && is_library_file(file) && user.file)
        return xasprintf("%s:%d: error: %s\n%s:%d: note: raised in the block library here",
                         user.file, user.line, text, file, line);
    if (located) return xasprintf("%s:%d: error: %s", file, line, text);
    if (user.file) return xasprintf("%s:%d: error: %s", user.file, user.line, text);
    return xasprintf("%s: error: %s", spec_path, text);
}

/* Error handler of the spec's pcall: formats the error while its stack,
** and so the user's line, is still there. */
static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    char *text;
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    text = format_error(msg, where(L, 1, 1), spec_of(L)->path);
    lua_pushstring(L, text);
    free(text);
    return 1;
}

/* }==================================================================== */

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *d;
    if (!slash) return xstrdup("");
    d = xmalloc((size_t)(slash - path) + 2);
    memcpy(d, path, (size_t)(slash - path) + 1);
    d[slash - path + 1] = '\0';
    return d;
}

static int is_model(lua_State *L, int idx) {
    int same;
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, MODEL_MT);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* The number of the file's last line: where a spec that returned no model
** ended. */
static int last_line(const char *path) {
    FILE *f = fopen(path, "rb");
    int c, prev = '\n', lines = 0;
    if (!f) return 0;
    while ((c = getc(f)) != EOF) {
        if (prev == '\n') lines++;
        prev = c;
    }
    fclose(f);
    return lines;
}

static int run_script(lua_State *L, Spec *s) {
    lua_pushcfunction(L, msghandler);
    if (!regular_file(s->path)) {
        fprintf(stderr, "%s: error: not a regular file\n", s->path);
        return -1;
    }
    if (luaL_loadfilex(L, s->path, "t") != LUA_OK) {
        Loc none = {NULL, 0};
        char *text = format_error(lua_tostring(L, -1), none, s->path);
        fprintf(stderr, "%s\n", text);
        free(text);
        return -1;
    }
    if (lua_pcall(L, 0, 1, -2) != LUA_OK) {
        if (s->out_of_memory)
            fprintf(stderr, "%s: error: the spec used more than %lu MiB of Lua memory (skipc "
                    "--max-memory raises the limit)\n", s->path,
                    (unsigned long)(s->limits.memory >> 20));
        else fprintf(stderr, "%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
        return -1;
    }
    if (!is_model(L, -1)) {
        Loc loc = {s->path, last_line(s->path)};
        diag_error(loc, "the spec must end with 'return model{input = ..., output = ...}'");
        return -1;
    }
    return 0;
}

static int check_defines(Spec *s) {
    Loc loc = {s->path, 0};
    int bad = 0;
    for (int i = 0; i < s->ndefs; i++) {
        if (s->defs[i].used) continue;
        diag_error(loc, "-D %s=%s: the spec declares no param(\"%s\", ...)", s->defs[i].key,
                   s->defs[i].value, s->defs[i].key);
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* The Lua allocator, bounded by the spec's memory limit. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    Spec *s = ud;
    size_t old = ptr ? osize : 0, limit = s->limits.memory;
    void *p;
    if (nsize == 0) {
        free(ptr);
        s->memory -= old;
        return NULL;
    }
    if (s->out_of_memory) limit += MEMORY_GRACE;
    if (nsize > old && s->memory - old + nsize > limit) {
        s->out_of_memory = 1;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (p) s->memory = s->memory - old + nsize;
    return p;
}

/* Every HOOK_STEP instructions: stops a spec past its instruction limit.
** From then on the hook runs at every instruction and fails each time, so
** the error escapes every pcall in the spec at the first instruction after
** it. */
static void count_hook(lua_State *L, lua_Debug *ar) {
    Spec *s = spec_of(L);
    (void)ar;
    s->instructions += HOOK_STEP;
    if (s->instructions > s->limits.instructions) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "the spec ran more than %I Lua instructions, a loop that does not end? "
                   "(skipc --max-instructions raises the limit)",
                   (lua_Integer)s->limits.instructions);
    }
}

static int panic(lua_State *L) {
    fprintf(stderr, "skipc: error: %s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "Lua panic");
    return 0;
}

IrGraph *spec_run(const char *spec_path, Define *defs, int ndefs) {
    return spec_run_limited(spec_path, defs, ndefs, &spec_default_limits);
}

IrGraph *spec_run_limited(const char *spec_path, Define *defs, int ndefs,
                          const SpecLimits *limits) {
    Spec s;
    lua_State *L;
    int rc;
    memset(&s, 0, sizeof s);
    s.limits = *limits;
    L = lua_newstate(limited_alloc, &s);
    if (!L) {
        fprintf(stderr, "skipc: cannot create a Lua state\n");
        return NULL;
    }
    lua_atpanic(L, panic);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
    s.g = ir_graph_new();
    s.path = spec_path;
    s.dir = dir_of(spec_path);
    s.defs = defs;
    s.ndefs = ndefs;
    s.pending = -1;
    lua_pushlightuserdata(L, &s);
    lua_setfield(L, LUA_REGISTRYINDEX, SPEC_KEY);
    open_sandbox(L);
    rc = run_script(L, &s);
    drop_pending(&s);
    lua_close(L);
    if (rc == 0) rc = check_defines(&s);
    for (int i = 0; i < s.nscopes; i++) free(s.scopes[i]);
    free(s.scopes);
    strmap_free(&s.taken);
    strmap_free(&s.counters);
    free(s.pending_key);
    free(s.dir);
    if (rc != 0) {
        ir_graph_free(s.g);
        return NULL;
    }
    return s.g;
}
