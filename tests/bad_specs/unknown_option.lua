-- expect: tests/bad_specs/unknown_option.lua:3: error: conv2d: unknown option 'strid'
local x = input{1, 8, 8}
local y = conv2d(x, 4, 3, {strid = 2})
return model{input = x, output = y}
