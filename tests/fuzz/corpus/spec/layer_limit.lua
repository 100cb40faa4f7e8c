-- the layer limit
local x = input{4}
local y = x
for i = 1, 100000 do y = relu(y) end
return model{input = x, output = linear(y, 2)}
