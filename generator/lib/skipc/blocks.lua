-- skipc.blocks: the standard building blocks of residual and dense networks.
--
-- Every block names its layers as torchvision names its modules, so the
-- parameter names of a generated model are the keys of the matching
-- torchvision state_dict and checkpoints map one-to-one. Wrap a block in
-- scope()s for the outer part of the name:
--
--   scope("layer1", function() scope("0", function() x = blocks.basic(x, 64) end) end)
--   -- layer1.0.conv1.weight, layer1.0.bn1.running_mean, ...
--
-- Common options:
--   norm = "batch" | "none"  "none" leaves out every batchnorm and gives the
--                            convolutions a bias in its place.
--   skip = true | false      (residual blocks) false builds the plain block:
--                            no addition and no shortcut layers at all, for
--                            comparing a network with its plain twin.

local M = {}

-- Fills in defaults and rejects unknown keys, as the built-in ops do: a
-- misspelt option must not quietly fall back to its default.
local function options(fn, opts, defaults)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  if opts ~= nil and type(opts) ~= "table" then
    error(fn .. ": options must be a table", 3)
  end
  for k, v in pairs(opts or {}) do
    if defaults[k] == nil then error(fn .. ": unknown option '" .. tostring(k) .. "'", 3) end
    o[k] = v
  end
  if o.norm ~= "batch" and o.norm ~= "none" then
    error(fn .. ": norm must be \"batch\" or \"none\", got " .. tostring(o.norm), 3)
  end
  if o.skip ~= nil and type(o.skip) ~= "boolean" then
    error(fn .. ": skip must be true or false", 3)
  end
  return o
end

local function channels(x) return x.shape[1] end

-- A count a block takes (layers, growth): a whole number of at least 1, so
-- NaN, -1 or 2.5 stop with a message instead of building nothing.
local function count(fn, what, v)
  if math.type(v) == "float" and v == math.floor(v) and v >= 1 and v < 2^31 then v = math.tointeger(v) end
  if math.type(v) ~= "integer" or v < 1 then
    local shown = v ~= v and "NaN" or tostring(v)
    error(fn .. ": " .. what .. " must be a whole number of at least 1, got " .. shown, 3)
  end
  return v
end

-- A convolution that carries a bias only when no batchnorm follows it
-- (batchnorm's own shift would make the bias redundant).
local function conv(x, out, k, o, name, stride, padding)
  return conv2d(x, out, k, {stride = stride or 1, padding = padding or 0,
                            bias = o.norm == "none", name = name})
end

local function norm(x, o, name)
  if o.norm == "none" then return x end
  return batchnorm(x, {name = name})
end

-- torchvision's projection shortcut: downsample.0 (1x1 conv with the
-- block's stride) and downsample.1 (batchnorm); identity when the shape
-- is unchanged.
local function downsample(x, out, stride, o)
  if stride == 1 and channels(x) == out then return x end
  return scope("downsample", function()
    return norm(conv(x, out, 1, o, "0", stride), o, "1")
  end)
end

-- BasicBlock of ResNet (He et al. 2016, "Deep Residual Learning for Image
-- Recognition"), as torchvision.models.resnet.BasicBlock:
--   conv1 (3x3, stride) bn1 relu conv2 (3x3) bn2 (+ shortcut) relu
-- Layers: conv1, bn1, conv2, bn2 and, when the shape changes,
-- downsample.0 / downsample.1.
function M.basic(x, planes, opts)
  local o = options("basic", opts, {stride = 1, skip = true, norm = "batch"})
  local y = relu(norm(conv(x, planes, 3, o, "conv1", o.stride, 1), o, "bn1"))
  y = norm(conv(y, planes, 3, o, "conv2", 1, 1), o, "bn2")
  if o.skip then y = add{y, downsample(x, planes, o.stride, o)} end
  return relu(y)
end

-- Bottleneck of ResNet-50/101/152 (He et al. 2016), as torchvision's
-- Bottleneck (the "ResNet v1.5" variant: the stride sits on the 3x3):
--   conv1 (1x1) bn1 relu conv2 (3x3, stride) bn2 relu conv3 (1x1, 4*planes)
--   bn3 (+ shortcut) relu
-- Layers: conv1..conv3, bn1..bn3, downsample.0 / downsample.1.
-- Output has 4*planes channels.
function M.bottleneck(x, planes, opts)
  local o = options("bottleneck", opts, {stride = 1, skip = true, norm = "batch"})
  local out = planes * 4
  local y = relu(norm(conv(x, planes, 1, o, "conv1"), o, "bn1"))
  y = relu(norm(conv(y, planes, 3, o, "conv2", o.stride, 1), o, "bn2"))
  y = norm(conv(y, out, 1, o, "conv3"), o, "bn3")
  if o.skip then y = add{y, downsample(x, out, o.stride, o)} end
  return relu(y)
end

-- Pre-activation block (He et al. 2016, "Identity Mappings in Deep Residual
-- Networks"): the shortcut carries the input untouched and the residual
-- path starts with normalization:
--   bn1 relu conv1 (3x3, stride) bn2 relu conv2 (3x3) (+ shortcut)
-- When the shape changes the shortcut is a 1x1 conv named "shortcut",
-- applied to the pre-activated input as in the paper's reference code.
-- Layers: bn1, conv1, bn2, conv2, shortcut. There is no final relu: the
-- next block's bn1/relu (or the network's head) follows.
function M.preact(x, planes, opts)
  local o = options("preact", opts, {stride = 1, skip = true, norm = "batch"})
  local a = relu(norm(x, o, "bn1"))
  local y = conv(a, planes, 3, o, "conv1", o.stride, 1)
  y = conv(relu(norm(y, o, "bn2")), planes, 3, o, "conv2", 1, 1)
  if not o.skip then return y end
  local short = x
  if o.stride ~= 1 or channels(x) ~= planes then
    short = conv(a, planes, 1, o, "shortcut", o.stride)
  end
  return add{y, short}
end

-- One layer of DenseNet-BC (Huang et al. 2017, "Densely Connected
-- Convolutional Networks"), as torchvision's _DenseLayer:
--   norm1 relu1 conv1 (1x1, bn_size*growth) norm2 relu2 conv2 (3x3, growth)
-- Returns the input with the growth new channels appended.
function M.dense_layer(x, growth, opts)
  local o = options("dense_layer", opts, {bn_size = 4, norm = "batch"})
  local y = relu(norm(x, o, "norm1"), {name = "relu1"})
  y = conv(y, o.bn_size * growth, 1, o, "conv1")
  y = relu(norm(y, o, "norm2"), {name = "relu2"})
  y = conv(y, growth, 3, o, "conv2", 1, 1)
  return concat{x, y}
end

-- A dense block: nlayers dense_layers in scopes denselayer1..denselayerN
-- (torchvision's _DenseBlock). opts go to every layer.
function M.dense_block(x, nlayers, growth, opts)
  options("dense_block", opts, {bn_size = 4, norm = "batch"})
  nlayers = count("dense_block", "nlayers", nlayers)
  growth = count("dense_block", "growth", growth)
  for i = 1, nlayers do
    x = scope("denselayer" .. i, function() return M.dense_layer(x, growth, opts) end)
  end
  return x
end

-- Squeeze-and-excitation (Hu et al. 2018, "Squeeze-and-Excitation
-- Networks"): the input scaled per channel by a gate computed from it,
-- global average pooling, fc1 (channels/reduction) relu, fc2 sigmoid.
-- Layers: fc1, fc2 (torchvision's SqueezeExcitation names them so).
function M.se(x, opts)
  local o = options("se", opts, {reduction = 16, norm = "batch"})
  local c = channels(x)
  local s = global_avgpool(x, {name = "avgpool"})
  s = relu(linear(s, math.max(1, c // o.reduction), {name = "fc1"}))
  s = sigmoid(linear(s, c, {name = "fc2"}))
  return mul(x, s)
end

-- Transition between dense blocks (torchvision's _Transition): norm, relu,
-- conv (1x1 to out_channels; DenseNet-BC halves the channels), pool
-- (2x2 average pooling).
function M.transition(x, out_channels, opts)
  local o = options("transition", opts, {norm = "batch"})
  local y = relu(norm(x, o, "norm"), {name = "relu"})
  y = conv(y, out_channels, 1, o, "conv")
  return avgpool(y, 2, {name = "pool"})
end

return M
