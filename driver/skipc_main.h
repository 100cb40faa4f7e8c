/*
** skipc_main.h: the one entry point of a model binary. model_main.c binds
** it to a generated model; everything else in driver/ is model-agnostic.
*/
#ifndef SKIPC_SKIPC_MAIN_H
#define SKIPC_SKIPC_MAIN_H

#include "rt_model.h"

/* Dispatches argv[1] (train, eval, predict, grads, info, bench, gradflow,
** lesion) and returns the exit status: 0, 1 (failure, one line on stderr), 2 (usage). */
int skipc_main(const RtModel *m, int argc, char **argv);

#endif
