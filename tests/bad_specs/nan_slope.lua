-- expect: tests/bad_specs/nan_slope.lua:4: error: leaky_relu: slope must be a finite number (float range), got NaN
-- NaN or infinite arguments used to produce C that does not compile.
local x = input{1, 8, 8}
local y = leaky_relu(conv2d(x, 4, 3), 0/0)
return model{input = x, output = flatten(y)}
