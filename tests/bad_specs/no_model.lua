-- expect: tests/bad_specs/no_model.lua:3: error: the spec must end with 'return model{input = ..., output = ...}'
local x = input{4}
local y = linear(x, 2)
