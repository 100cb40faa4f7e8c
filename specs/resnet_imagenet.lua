-- torchvision's ImageNet ResNets (He et al. 2016, "Deep Residual Learning
-- for Image Recognition"): ResNet-18 and -34 with basic blocks, ResNet-50
-- with bottlenecks (stride on the 3x3 conv, torchvision's "v1.5").
-- conv1 (7x7, stride 2) bn1 relu maxpool (3x3, stride 2), four stages
-- layer1..layer4 of 64, 128, 256, 512 planes (stride 2 from layer2 on),
-- global average pooling, fc. Every parameter and buffer name is the key of
-- torchvision.models.resnetNN().state_dict() (num_batches_tracked aside),
-- so its checkpoints load one-to-one.
--
-- Params:
--   depth    18, 34 or 50 (default 18)
--   size     input height and width, 3 channels (default 224; 32 is the
--            smallest that reaches 1x1 at layer4)
--   classes  outputs of fc (default 1000)
local blocks = require("skipc.blocks")

local depth = param("depth", 18)
local size = param("size", 224)
local classes = param("classes", 1000)
local configs = {
  [18] = {block = blocks.basic, expansion = 1, layers = {2, 2, 2, 2}},
  [34] = {block = blocks.basic, expansion = 1, layers = {3, 4, 6, 3}},
  [50] = {block = blocks.bottleneck, expansion = 4, layers = {3, 4, 6, 3}},
}
local cfg = configs[depth]
if not cfg then error("resnet_imagenet: depth must be 18, 34 or 50, got " .. tostring(depth)) end

local x = input{3, size, size}
local y = conv2d(x, 64, 7, {stride = 2, padding = 3, bias = false, name = "conv1"})
y = relu(batchnorm(y, {name = "bn1"}), {name = "relu"})
y = maxpool(y, 3, {stride = 2, padding = 1, name = "maxpool"})
for stage, nblocks in ipairs(cfg.layers) do
  local planes = 64 << (stage - 1)
  scope("layer" .. stage, function()
    for i = 0, nblocks - 1 do
      local stride = (stage > 1 and i == 0) and 2 or 1
      scope(tostring(i), function() y = cfg.block(y, planes, {stride = stride}) end)
    end
  end)
end
y = linear(global_avgpool(y, {name = "avgpool"}), classes, {name = "fc"})
return model{input = x, output = y, loss = "cross_entropy"}
