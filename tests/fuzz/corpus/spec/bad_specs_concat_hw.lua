-- expect: tests/bad_specs/concat_hw.lua:4: error: concat: input 2 is 4x4 but input 1 is 8x8 (H and W must match)
local x = input{1, 8, 8}
local a = maxpool(x, 2)
local y = concat{x, a}
return model{input = x, output = y}
