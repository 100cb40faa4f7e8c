-- expect: generator/lib/skipc/blocks.lua:NN: conv2d: out_channels 0 out of range (called from tests/bad_specs/block_error.lua:4)
local blocks = require "skipc.blocks"
local x = input{16, 8, 8}
local y = blocks.basic(x, 0)
return model{input = x, output = y}
