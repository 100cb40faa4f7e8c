-- A tiny U-Net (Ronneberger et al. 2015, "U-Net: Convolutional Networks for
-- Biomedical Image Segmentation") for 1x28x28 images and a 10-class label
-- per pixel (cross-entropy over every pixel):
--   enc1  28x28, base channels      -> maxpool
--   enc2  14x14, 2*base             -> maxpool
--   mid    7x7,  4*base
--   dec2  upsample x2, concat enc2, 14x14, 2*base
--   dec1  upsample x2, concat enc1, 28x28, base
--   head  1x1 conv to 10 channels
-- Each stage is two 3x3 conv + batchnorm + relu units (padding 1 keeps the
-- size, so the skips concatenate without the paper's cropping).
--
-- Params:
--   base  channels of the first stage (default 16)
--   norm  "batch" or "none" (default "batch")
--   act   "relu" or "tanh" (default "relu")
--   pool  "max" or "avg" downsampling (default "max"); tanh with avg gives
--         a network without kinks, which finite differences check tightly
local base = param("base", 16)
local norm = param("norm", "batch")
local act = param("act", "relu") == "tanh" and tanh or relu
local pool = param("pool", "max") == "avg" and avgpool or maxpool

-- Two conv+bn+relu units in a scope: name.conv1, name.bn1, name.conv2, ...
local function stage(name, x, out)
  return scope(name, function()
    for _ = 1, 2 do
      x = conv2d(x, out, 3, {padding = 1, bias = norm == "none"})
      if norm == "batch" then x = batchnorm(x) end
      x = act(x)
    end
    return x
  end)
end

local x = input{1, 28, 28}
local e1 = stage("enc1", x, base)
local e2 = stage("enc2", pool(e1, 2), 2 * base)
local m = stage("mid", pool(e2, 2), 4 * base)
local d2 = stage("dec2", concat{upsample(m, 2), e2}, 2 * base)
local d1 = stage("dec1", concat{upsample(d2, 2), e1}, base)
local y = conv2d(d1, 10, 1, {name = "head"})
return model{input = x, output = y, loss = "cross_entropy"}
