-- expect: tests/bad_specs/duplicate_name.lua:4: error: conv2d: name 'stem' is already used by the layer made at tests/bad_specs/duplicate_name.lua:3
local x = input{1, 8, 8}
local a = conv2d(x, 4, 3, {name = "stem"})
local y = conv2d(a, 4, 3, {name = "stem"})
return model{input = x, output = y}
