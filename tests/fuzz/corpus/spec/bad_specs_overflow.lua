-- expect: tests/bad_specs/overflow.lua:3: error: conv2d: tensor too large (more than 2147483647 elements per sample)
local x = input{1, 40000, 40000}
local y = conv2d(x, 4, 1)
return model{input = x, output = y}
