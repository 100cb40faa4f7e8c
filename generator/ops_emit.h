/*
** ops_emit.h: forward/backward emitters, one pair per op, referenced by
** the op table in ops.c.
*/
#ifndef SKIPC_OPS_EMIT_H
#define SKIPC_OPS_EMIT_H

#include "ops.h"

#define EMITTER(name) void name(OpCtx *c);
EMITTER(emit_conv_decl) EMITTER(emit_conv_fwd) EMITTER(emit_conv_bwd)
EMITTER(emit_linear_fwd) EMITTER(emit_linear_bwd)
EMITTER(emit_bn_fwd) EMITTER(emit_bn_bwd)
EMITTER(emit_relu_fwd) EMITTER(emit_relu_bwd)
EMITTER(emit_leaky_fwd) EMITTER(emit_leaky_bwd)
EMITTER(emit_sigmoid_fwd) EMITTER(emit_sigmoid_bwd)
EMITTER(emit_tanh_fwd) EMITTER(emit_tanh_bwd)
EMITTER(emit_pool_decl)
EMITTER(emit_maxpool_fwd) EMITTER(emit_maxpool_bwd)
EMITTER(emit_avgpool_fwd) EMITTER(emit_avgpool_bwd)
EMITTER(emit_gap_fwd) EMITTER(emit_gap_bwd)
EMITTER(emit_add_fwd) EMITTER(emit_add_bwd)
EMITTER(emit_concat_fwd) EMITTER(emit_concat_bwd)
EMITTER(emit_upsample_fwd) EMITTER(emit_upsample_bwd)
#undef EMITTER

#endif
