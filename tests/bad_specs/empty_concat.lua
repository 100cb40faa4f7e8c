-- expect: tests/bad_specs/empty_concat.lua:4: error: concat needs at least 1 input
-- concat{} used to crash the generator.
local x = input{1, 8, 8}
local y = concat{}
return model{input = x, output = y}
