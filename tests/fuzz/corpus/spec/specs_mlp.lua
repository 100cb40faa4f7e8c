-- A two-layer perceptron for 1x28x28 images and 10 classes.
local hidden = param("hidden", 128)

local x = input{1, 28, 28}
local h = relu(linear(flatten(x), hidden, {name = "fc1"}))
local y = linear(h, 10, {name = "fc2"})
return model{input = x, output = y, loss = "cross_entropy"}
