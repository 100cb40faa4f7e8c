-- expect: tests/bad_specs/block_error.lua:5: error: conv2d: out_channels 0 out of range
-- expect: generator/lib/skipc/blocks.lua:NN: note: raised in the block library here
local blocks = require "skipc.blocks"
local x = input{16, 8, 8}
local y = blocks.basic(x, 0)
return model{input = x, output = y}
