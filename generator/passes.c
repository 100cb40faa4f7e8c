/*
** passes.c: the middle end's passes, in the order they run.
*/
#include "passes.h"

void passes_run(KProgram *p, int remat) {
    pass_write_first(p);
    pass_add_alias(p);
    pass_fuse(p);
    pass_concat(p);
    if (remat) pass_remat(p);
}
