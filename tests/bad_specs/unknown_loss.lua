-- expect: tests/bad_specs/unknown_loss.lua:3: error: model: unknown loss 'hinge' (expected "cross_entropy" or "mse")
local x = input{4}
return model{input = x, output = linear(x, 2), loss = "hinge"}
