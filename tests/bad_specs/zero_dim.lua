-- expect: tests/bad_specs/zero_dim.lua:2: error: input: dimension 0 out of range (1..1048576)
local x = input{1, 0, 28}
return model{input = x, output = x}
