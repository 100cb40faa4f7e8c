-- expect: tests/bad_specs/dense_negative_growth.lua:4: error: dense_block: growth must be a whole number of at least 1, got -1
local blocks = require "skipc.blocks"
local x = input{8, 8, 8}
local y = blocks.dense_block(x, 2, -1)
return model{input = x, output = flatten(y)}
