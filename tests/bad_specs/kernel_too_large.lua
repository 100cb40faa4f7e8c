-- expect: tests/bad_specs/kernel_too_large.lua:3: error: conv2d: kernel 7 larger than padded input 6x6 (padding 1)
local x = input{1, 4, 4}
local y = conv2d(x, 8, 7, {padding = 1})
return model{input = x, output = y}
