-- Three residual blocks of equal shape. -D cut=k builds block k as what a
-- lesion leaves of it (relu of the identity path), so the lesion switch of
-- the full network can be compared with a network generated without that
-- branch (tests/lesion_check.c).
local blocks = require "skipc.blocks"
local cut = param("cut", 0)

local x = input{1, 10, 10}
local y = relu(batchnorm(conv2d(x, 8, 3, {padding = 1, bias = false, name = "conv1"}), {name = "bn1"}))
for i = 1, 3 do
    scope("block" .. i, function()
        if i == cut then y = relu(y) else y = blocks.basic(y, 8) end
    end)
end
y = linear(global_avgpool(y), 5, {name = "fc"})
return model{input = x, output = y}
