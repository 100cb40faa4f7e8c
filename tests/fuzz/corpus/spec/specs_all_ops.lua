-- Every op at least once, small: the whole-network gradient check of the
-- generator and runtime together, independent of the shipped specs.
local blocks = require "skipc.blocks"
local loss = param("loss", "cross_entropy")

local x = input{3, 12, 12}
local a = relu(batchnorm(conv2d(x, 8, 3, {padding = 1, bias = false})))
local b = conv2d(a, 8, 3, {padding = 1, groups = 2}):leaky_relu(0.1)
local r = a + b                                   -- residual skip
local p = maxpool(r, 3, {stride = 2, padding = 1})  -- 6x6
local q = avgpool(p, 2, {stride = 1})               -- 5x5
local s = sigmoid(conv2d(q, 4, 1))
local t = tanh(conv2d(q, 4, 3, {padding = 1}))
t = scope("se", function() return blocks.se(t, {reduction = 2}) end) * sigmoid(t)  -- gate, then a product
local u = upsample(concat{s:maxpool(1), t:avgpool(3, {stride = 1, padding = 1})}, 2)
local d = concat{u:conv2d(6, 3, {stride = 2, padding = 1}), q}  -- dense skip at 5x5
local y
if loss == "mse" then
    y = add(conv2d(d, 4, 1), conv2d(d, 4, 1), conv2d(d, 4, 1))
else
    local v = global_avgpool(d)
    y = linear(relu(batchnorm(linear(flatten(v), 16))), 5)
end
return model{input = x, output = y, loss = loss}
