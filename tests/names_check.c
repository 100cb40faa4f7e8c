/*
** names_check.c: prints every name a generated model holds, one per
** line: parameter tensors, layers and their spec locations, code blocks.
** tests/test_generator.sh compiles it against a model generated from
** hostile names and compares what it prints with what the spec said.
*/
#include <stdio.h>

#include SKIPC_MODEL_HEADER

int main(void) {
    const RtModel *m = &SKIPC_MODEL;
    for (int i = 0; i < m->num_tensors; i++) printf("tensor %s\n", m->tensors[i].name);
    for (int i = 0; i < m->num_layers; i++)
        printf("layer %s at %s\n", m->layers[i].name, m->layers[i].loc);
    for (int i = 0; i < m->num_blocks; i++) printf("block %s\n", m->blocks[i].name);
    return 0;
}
