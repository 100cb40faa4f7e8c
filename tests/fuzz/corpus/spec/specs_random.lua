-- A random valid topology drawn from a seed, for the property tests
-- (tests/proptest.sh). Each draw mixes every op: convolutions 1/3/5 with
-- stride 1/2, padding, groups and bias or not; batchnorm; every
-- activation; max and average pooling with padding; adds of 2-4 inputs
-- (projected to one shape where needed, a tensor sometimes twice);
-- products and squeeze-and-excitation gates;
-- concats of 2-4 (and so of concats); tensors read by 3+ layers;
-- upsampling and U-Net paths across resolutions; linear, global-pooling
-- and per-pixel heads; both losses.
--   -D seed=N       which topology
--   -D layers=N     random layers before the head (shrinking lowers it)
--   -D smooth=true  tanh and sigmoid for relu and leaky_relu, average for
--                   max pooling: the same topology without kinks, so that
--                   finite differences check it at the strict tolerance
local seed = param("seed", 1)
local layers = param("layers", 12)
local smooth = param("smooth", false)
math.randomseed(seed)
local R = math.random

local function chance(p) return R() < p end
local function one_of(list) return list[R(#list)] end

local side = one_of{8, 12}
local x = input{R(3), side, side}
local pool = {x}

-- A tensor of the pool, recent ones more likely.
local function pick()
    local back = math.floor(R() ^ 2 * #pool)
    return pool[#pool - back]
end

local function keep(t)
    pool[#pool + 1] = t
    return t
end

local function activate(t)
    local f = one_of(smooth and {"tanh", "sigmoid"} or {"relu", "leaky_relu", "tanh", "sigmoid"})
    if f == "leaky_relu" then return leaky_relu(t, 0.1) end
    return _ENV[f](t)
end

local function maybe_bn_act(t)
    if chance(0.5) then t = batchnorm(t) end
    if chance(0.7) then t = activate(t) end
    return t
end

-- Half the spatial size: a strided convolution or a pooling window.
local function halve(t)
    if chance(0.5) then
        local k = one_of{1, 3, 5}
        return conv2d(t, R(2, 8), k, {stride = 2, padding = k // 2, bias = chance(0.5)})
    end
    local op = smooth and avgpool or one_of{maxpool, avgpool}
    if chance(0.5) then return op(t, 2) end
    return op(t, 3, {stride = 2, padding = 1})
end

-- t resized to h x h (h a power-of-two multiple or fraction of its size).
local function to_side(t, h)
    while t.shape[2] > h do t = halve(t) end
    if t.shape[2] < h then t = upsample(t, h // t.shape[2]) end
    return t
end

-- t as exactly c channels at h x h: a 1x1 projection where channels differ.
local function to_shape(t, c, h)
    t = to_side(t, h)
    if t.shape[1] ~= c then t = maybe_bn_act(conv2d(t, c, 1, {bias = chance(0.5)})) end
    return t
end

local function halvable(t) return t.shape[2] % 2 == 0 and t.shape[2] >= 4 end

local steps = {
    function()   -- convolution
        local t, k = pick(), one_of{1, 3, 5}
        local cin, cout = t.shape[1], R(2, 8)
        local groups = (cin % 2 == 0 and cout % 2 == 0 and chance(0.3)) and 2 or 1
        local stride = (halvable(t) and chance(0.3)) and 2 or 1
        return maybe_bn_act(conv2d(t, cout, k, {stride = stride, padding = k // 2,
                                                groups = groups, bias = chance(0.5)}))
    end,
    function() return batchnorm(pick()) end,
    function() return activate(pick()) end,
    function()   -- pooling, same size or halved
        local t = pick()
        if halvable(t) and chance(0.5) then return halve(t) end
        local op = smooth and avgpool or one_of{maxpool, avgpool}
        return op(t, 3, {stride = 1, padding = 1})
    end,
    function()   -- residual add of 2-4 inputs, projected to the first's shape
        local base, ins = pick(), {}
        ins[1] = base
        for i = 2, R(2, 4) do
            local t = chance(0.15) and base or pick()
            ins[i] = to_shape(t, base.shape[1], base.shape[2])
        end
        return add(table.unpack(ins))
    end,
    function()   -- concat of 2-4 inputs at the first's resolution
        local base, ins = pick(), {}
        ins[1] = base
        for i = 2, R(2, 4) do ins[i] = to_side(pick(), base.shape[2]) end
        return concat(ins)
    end,
    function()   -- one tensor read by three layers
        local t = pick()
        local c = t.shape[1]
        return add(conv2d(t, c, 3, {padding = 1}), t, activate(t))
    end,
    function()   -- a product: a squeeze-and-excitation gate, or two tensors of one shape
        local t = pick()
        if chance(0.5) then
            return mul(t, sigmoid(linear(global_avgpool(t), t.shape[1])))
        end
        return t * to_shape(pick(), t.shape[1], t.shape[2])
    end,
    function()   -- a U-Net path: down, work, up, concat with the skip
        local t = pick()
        if not halvable(t) then return activate(t) end
        local down = maybe_bn_act(halve(t))
        local up = upsample(conv2d(down, R(2, 6), 3, {padding = 1}), 2)
        return concat{t, up}
    end,
}

for _ = 1, layers do keep(one_of(steps)()) end

-- The head: a classifier on pooled features or on flattened ones, or a
-- per-pixel map at the input's resolution; cross-entropy or squared error.
local classes = R(2, 5)
local loss = one_of{"cross_entropy", "mse"}
local t = pick()
local y
local head = R(3)
if head == 1 then
    y = global_avgpool(t)
    if chance(0.5) then y = maybe_bn_act(linear(y, R(4, 12))) end
    y = linear(y, classes, {bias = chance(0.5)})
elseif head == 2 then
    y = linear(flatten(to_side(t, math.min(t.shape[2], 4))), classes)
else
    y = conv2d(to_side(t, side), classes, 1)
end
return model{input = x, output = y, loss = loss}
