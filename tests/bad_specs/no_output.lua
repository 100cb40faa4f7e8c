-- expect: tests/bad_specs/no_output.lua:3: error: model: missing output
local x = input{1, 8, 8}
return model{input = x, loss = "mse"}
