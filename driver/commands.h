/*
** commands.h: the subcommands of a model binary. Each takes the words
** after its name, returns the process exit status (CLI_OK, CLI_FAIL with
** one line on stderr naming the file at fault, or CLI_USAGE) and never
** aborts on bad input.
*/
#ifndef SKIPC_COMMANDS_H
#define SKIPC_COMMANDS_H

#include <stddef.h>

#include "rt_model.h"

int cmd_train(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_eval(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_predict(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_grads(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_info(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_bench(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_gradflow(const RtModel *m, const char *prog, int argc, char **argv);
int cmd_lesion(const RtModel *m, const char *prog, int argc, char **argv);

/*
** Allocates the parameters and loads them from a checkpoint; if norm is
** not NULL, also reads the input normalisation (norm[0] mean, norm[1]
** std) from its metadata: mean 0 and std 1, with a note, when it names
** neither (a PyTorch state_dict). Returns the parameters, or NULL with a
** message in err.
*/
float *cmd_load_weights(const RtModel *m, const char *path, float *norm,
                        char *err, size_t errlen);

/* Per-sample input and output sizes in floats. */
size_t cmd_in_size(const RtModel *m);
size_t cmd_out_size(const RtModel *m);

/* Prints "prog: msg" on stderr and returns CLI_FAIL. */
int cmd_fail(const char *prog, const char *msg);

#endif
