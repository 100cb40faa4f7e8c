-- expect: tests/bad_specs/conv_groups.lua:3: error: conv2d: groups=2 must divide in_channels 3 and out_channels 8
local x = input{3, 8, 8}
local y = conv2d(x, 8, 3, {groups = 2})
return model{input = x, output = y}
