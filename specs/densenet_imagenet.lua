-- torchvision's DenseNet-121 (Huang et al. 2017, "Densely Connected
-- Convolutional Networks"): growth 32, dense blocks of 6, 12, 24 and 16
-- layers, bottleneck width 4*growth, 64 initial features, transitions
-- halving the channels (compression 0.5).
-- features.conv0 (7x7, stride 2) norm0 relu0 pool0 (3x3 max, stride 2),
-- denseblock1..4 with transition1..3 between them, features.norm5, relu,
-- global average pooling, classifier. Every parameter and buffer name is
-- the key of torchvision.models.densenet121().state_dict()
-- (num_batches_tracked aside), so its checkpoints load one-to-one.
--
-- Params:
--   size     input height and width, 3 channels (default 224; 32 is the
--            smallest that keeps every stage at least 1x1)
--   classes  outputs of the classifier (default 1000)
local blocks = require("skipc.blocks")

local size = param("size", 224)
local classes = param("classes", 1000)
local growth, block_config = 32, {6, 12, 24, 16}

local x = input{3, size, size}
local y = scope("features", function()
  local f = conv2d(x, 64, 7, {stride = 2, padding = 3, bias = false, name = "conv0"})
  f = relu(batchnorm(f, {name = "norm0"}), {name = "relu0"})
  f = maxpool(f, 3, {stride = 2, padding = 1, name = "pool0"})
  for b, nlayers in ipairs(block_config) do
    f = scope("denseblock" .. b, function() return blocks.dense_block(f, nlayers, growth) end)
    if b < #block_config then
      local out = f.shape[1] // 2
      f = scope("transition" .. b, function() return blocks.transition(f, out) end)
    end
  end
  return batchnorm(f, {name = "norm5"})
end)
y = global_avgpool(relu(y, {name = "relu"}), {name = "avgpool"})
y = linear(y, classes, {name = "classifier"})
return model{input = x, output = y, loss = "cross_entropy"}
