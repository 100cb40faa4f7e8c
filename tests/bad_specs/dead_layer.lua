-- expect: tests/bad_specs/dead_layer.lua:4: warning: conv2d 'conv1' does not reach the output
-- status: 0
local x = input{1, 8, 8}
local unused = conv2d(x, 4, 3)
local y = linear(flatten(x), 2)
return model{input = x, output = y}
