/*
** ops_lower.h: each op's lowering to kernel calls, forward and backward,
** referenced by its row of the op table in ops.c.
*/
#ifndef SKIPC_OPS_LOWER_H
#define SKIPC_OPS_LOWER_H

struct Lower;

#define LOWERING(name) void name(struct Lower *l);
LOWERING(lower_conv_fwd) LOWERING(lower_conv_bwd)
LOWERING(lower_linear_fwd) LOWERING(lower_linear_bwd)
LOWERING(lower_bn_fwd) LOWERING(lower_bn_bwd)
LOWERING(lower_relu_fwd) LOWERING(lower_relu_bwd)
LOWERING(lower_leaky_fwd) LOWERING(lower_leaky_bwd)
LOWERING(lower_sigmoid_fwd) LOWERING(lower_sigmoid_bwd)
LOWERING(lower_tanh_fwd) LOWERING(lower_tanh_bwd)
LOWERING(lower_maxpool_fwd) LOWERING(lower_maxpool_bwd)
LOWERING(lower_avgpool_fwd) LOWERING(lower_avgpool_bwd)
LOWERING(lower_gap_fwd) LOWERING(lower_gap_bwd)
LOWERING(lower_add_fwd) LOWERING(lower_add_bwd)
LOWERING(lower_concat_fwd) LOWERING(lower_concat_bwd)
LOWERING(lower_upsample_fwd) LOWERING(lower_upsample_bwd)
LOWERING(lower_mul_fwd) LOWERING(lower_mul_bwd)
#undef LOWERING

#endif
