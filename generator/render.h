/*
** render.h: the kernel-call IR as C text. With emit_model.c (the file
** around it) the only code that writes C.
*/
#ifndef SKIPC_RENDER_H
#define SKIPC_RENDER_H

#include "emit.h"
#include "kir.h"

/* "A(X_conv1)", "S(S_bn1)", "x": where a buffer is, as a C expression. */
const char *render_buffer(const KProgram *p, int buf, char *out, size_t cap);

/* "specs/resnet.lua:14": the spec line a node comes from. */
void render_loc(const IrNode *n, char *buf, size_t cap);

/* static const RtConv g_conv1 = {...}; for every geometry record of p
** that one of its calls passes. */
void render_geometry(Emit *e, const KProgram *p);

/* Whether the block c opens starts with an RT_PROF mark: every layer block
** of the training program's forward and backward that runs code. */
int render_marks(const KProgram *p, const KCall *c);

/* The calls of a list, a comment naming each layer's spec line before its
** calls, with their guards as if/else around them. */
void render_list(Emit *e, const KProgram *p, const KList *l);

#endif
