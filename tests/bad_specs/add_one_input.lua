-- expect: tests/bad_specs/add_one_input.lua:3: error: add needs at least 2 inputs, got 1
local x = input{1, 8, 8}
local y = add(x)
return model{input = x, output = y}
