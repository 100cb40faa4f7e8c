-- expect: tests/bad_specs/size_2_31.lua:4: error: conv2d: kernel 2147483648 out of range
-- 2^31 used to raise an internal Lua format error instead.
local x = input{1, 8, 8}
local y = conv2d(x, 4, 2147483648)
return model{input = x, output = flatten(y)}
