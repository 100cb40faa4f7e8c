-- expect: tests/bad_specs/name_too_long.lua:3: error: conv2d: name is 65 characters long, more than 64
local x = input{1, 8, 8}
local y = conv2d(x, 4, 3, {name = string.rep("c", 65)})
return model{input = x, output = flatten(y)}
