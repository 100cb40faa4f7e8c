-- expect: tests/bad_specs/unused_input.lua:4: warning: input 'extra' is not used
-- status: 0
local x = input{1, 8, 8}
local extra = input({1, 8, 8}, {name = "extra"})
return model{input = x, output = linear(flatten(x), 2)}
