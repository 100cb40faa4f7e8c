-- expect: tests/bad_specs/eps_float_range.lua:4: error: batchnorm: eps must be a finite number (float range), got 1e+39
-- Finite as a double, infinite as a float.
local x = input{1, 8, 8}
local y = batchnorm(conv2d(x, 4, 3), {eps = 1e39})
return model{input = x, output = flatten(y)}
