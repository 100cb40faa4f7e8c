-- status: 0
-- A spec that catches its own failed op calls is left with nothing of
-- them: the next layer still gets the first free name, no phantom layer
-- warns, and a scope whose function failed is closed.
local x = input{4}
assert(not pcall(linear, x, -1))
assert(not pcall(batchnorm, x, {momentum = 2}))
assert(not pcall(scope, "s", function() linear(x, -2) end))
local y = linear(x, 3)
assert(y.name == "fc1", y.name)
return model{input = x, output = y}
