-- expect: tests/bad_specs/unknown_function.lua:3: error: attempt to call a nil value (global 'conv3d')
local x = input{1, 8, 8}
local y = conv3d(x, 4, 3)
return model{input = x, output = y}
