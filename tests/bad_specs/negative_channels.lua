-- expect: tests/bad_specs/negative_channels.lua:3: error: conv2d: out_channels -16 out of range
local x = input{1, 8, 8}
local y = conv2d(x, -16, 3)
return model{input = x, output = y}
