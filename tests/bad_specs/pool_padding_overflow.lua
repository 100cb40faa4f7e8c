-- expect: tests/bad_specs/pool_padding_overflow.lua:3: error: maxpool: kernel 3, stride 3, padding 2147483000 out of range
local x = input{1, 8, 8}
local y = maxpool(conv2d(x, 4, 3), 3, {padding = 2147483000})
return model{input = x, output = flatten(y)}
