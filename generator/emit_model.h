/*
** emit_model.h: writes the planned kernel-call programs of a model as NAME.c
** and NAME.h text.
*/
#ifndef SKIPC_EMIT_MODEL_H
#define SKIPC_EMIT_MODEL_H

#include "plan.h"

typedef struct {
    const char *name;      /* C identifier: "resnet20" */
    const char *spec;      /* spec path as given on the command line */
    const char *defines;   /* "-D depth=20 -D skip=true" (sorted), or "" */
} ModelInfo;

/* Fills c_text and h_text (caller frees with str_free). */
/* p and plan: the training program; inf and inf_plan: the inference one. */
void emit_model(const KProgram *p, const Plan *plan, const KProgram *inf, const Plan *inf_plan,
                const ModelInfo *m, Str *c_text, Str *h_text);

#endif
