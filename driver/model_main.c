/*
** model_main.c: a model binary's main, compiled once per model with
** -DSKIPC_MODEL=NAME_model -DSKIPC_MODEL_HEADER='"NAME.h"'.
*/
#include SKIPC_MODEL_HEADER
#include "skipc_main.h"

int main(int argc, char **argv) {
    return skipc_main(&SKIPC_MODEL, argc, argv);
}
