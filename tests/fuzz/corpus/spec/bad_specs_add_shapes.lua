-- expect: tests/bad_specs/add_shapes.lua:5: error: add: input 2 has shape [8,4,4] but input 1 has [8,8,8]
local x = input{1, 8, 8}
local a = conv2d(x, 8, 3, {padding = 1})
local b = conv2d(a, 8, 3, {stride = 2, padding = 1})
local y = a + b
return model{input = x, output = y}
