-- expect: tests/bad_specs/huge_weight.lua:3: error: linear: parameter 'weight' too large
local x = input{1000000}
local y = linear(x, 1000000)
return model{input = x, output = y}
