/*
** emit_deploy.h: writes a deployment build (skipc --infer): the planned
** inference program as NAME.c and NAME.h text, and its embedded weights.
*/
#ifndef SKIPC_EMIT_DEPLOY_H
#define SKIPC_EMIT_DEPLOY_H

#include "emit_model.h"
#include "weights.h"

typedef struct {
    ModelInfo m;
    const Weights *weights;    /* NULL: params come from the caller (NAME_fold) */
    int blob;                  /* the weights go to NAME_weights.bin, not into C text */
} DeployInfo;

/* Fills c_text, h_text and, with weights, w_text: NAME_weights.c (caller
** frees them with str_free). p: a program pass_fold made, planned. */
void emit_deploy(const KProgram *p, const Plan *plan, const DeployInfo *d, Str *c_text,
                 Str *h_text, Str *w_text);

#endif
