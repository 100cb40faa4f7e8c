-- expect: tests/bad_specs/nothing_to_train.lua:4: error: model has nothing to train: no layer between its input and output has parameters
-- The output is the input: no layer at all (used to crash the generator).
local x = input{1, 8, 8}
return model{input = x, output = x}
