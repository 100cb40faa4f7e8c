-- expect: tests/bad_specs/dense_nan_layers.lua:5: error: dense_block: nlayers must be a whole number of at least 1, got NaN
-- A NaN or negative layer count used to build nothing, silently.
local blocks = require "skipc.blocks"
local x = input{8, 8, 8}
local y = blocks.dense_block(x, 0/0, 4)
return model{input = x, output = flatten(y)}
