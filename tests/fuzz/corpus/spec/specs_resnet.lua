-- CIFAR-style ResNet (He et al. 2016, "Deep Residual Learning for Image
-- Recognition", section 4.2) for 1x28x28 images and 10 classes:
-- a 3x3 conv with 16 channels, three stages of n basic blocks with 16, 32
-- and 64 channels (stride 2 at the start of stages 2 and 3), global average
-- pooling and a linear classifier; depth = 6n + 2 (20, 32, 44, 56, 110).
-- The paper's CIFAR nets use parameter-free shortcuts (option A: strided
-- identity, zero-padded channels); this spec uses the block library's 1x1
-- projection (option B), which adds about 3k parameters.
-- Layers are named as torchvision names its ResNets: conv1, bn1,
-- layer1.0.conv1, layer2.0.downsample.0, ..., fc.
--
-- Params:
--   depth  6n+2 layers with weights (default 20)
--   skip   false gives the plain network of the same depth (default true)
--   norm   "batch" or "none" (default "batch")
local blocks = require("skipc.blocks")

local depth = param("depth", 20)
local skip = param("skip", true)
local norm = param("norm", "batch")
if depth < 8 or (depth - 2) % 6 ~= 0 then
  error("resnet: depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got " .. depth)
end
local n = (depth - 2) // 6

local x = input{1, 28, 28}
local y = conv2d(x, 16, 3, {padding = 1, bias = norm == "none", name = "conv1"})
if norm == "batch" then y = batchnorm(y, {name = "bn1"}) end
y = relu(y, {name = "relu"})
for stage, planes in ipairs{16, 32, 64} do
  scope("layer" .. stage, function()
    for i = 0, n - 1 do
      local stride = (stage > 1 and i == 0) and 2 or 1
      scope(tostring(i), function()
        y = blocks.basic(y, planes, {stride = stride, skip = skip, norm = norm})
      end)
    end
  end)
end
y = linear(global_avgpool(y, {name = "avgpool"}), 10, {name = "fc"})
return model{input = x, output = y, loss = "cross_entropy"}
