-- DenseNet-BC (Huang et al. 2017, "Densely Connected Convolutional
-- Networks") in its CIFAR form, for 1x28x28 images and 10 classes:
-- a 3x3 conv with 2*growth channels, three dense blocks of n bottleneck
-- layers (n = (depth-4)/6) joined by transitions that halve the channels
-- (compression 0.5) and the resolution, then norm, relu, global average
-- pooling and a linear classifier. depth 40 with growth 12 is the smallest
-- DenseNet-BC of the paper's setting (about 0.18M parameters here).
-- Layers are named as in torchvision's DenseNet: features.conv0,
-- features.denseblock1.denselayer1.conv1, features.transition1.conv,
-- features.norm5, classifier.
--
-- Params:
--   depth   6n+4 (default 40: 6 layers per block)
--   growth  channels each dense layer adds (default 12)
--   norm    "batch" or "none" (default "batch")
local blocks = require("skipc.blocks")

local depth = param("depth", 40)
local growth = param("growth", 12)
local norm = param("norm", "batch")
if depth < 10 or (depth - 4) % 6 ~= 0 then
  error("densenet_bc: depth must be 6n+4 with n >= 1 (10, 16, 22, 40, 100), got " .. depth)
end
local n = (depth - 4) // 6
local opts = {norm = norm}

local x = input{1, 28, 28}
local y = scope("features", function()
  local f = conv2d(x, 2 * growth, 3, {padding = 1, bias = norm == "none", name = "conv0"})
  for b = 1, 3 do
    f = scope("denseblock" .. b, function() return blocks.dense_block(f, n, growth, opts) end)
    if b < 3 then
      local out = f.shape[1] // 2
      f = scope("transition" .. b, function() return blocks.transition(f, out, opts) end)
    end
  end
  if norm == "batch" then f = batchnorm(f, {name = "norm5"}) end
  return f
end)
y = global_avgpool(relu(y, {name = "relu"}), {name = "avgpool"})
y = linear(y, 10, {name = "classifier"})
return model{input = x, output = y, loss = "cross_entropy"}
