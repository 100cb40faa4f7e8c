-- expect: tests/bad_specs/path_too_long.lua:4: error: relu: layer name ssssssssssssssssssssssssssssssssssssssss... is 249 characters long, more than 240
local x = input{1, 8, 8}
local s = string.rep("s", 60)
local function deep(d) if d == 0 then return relu(x) end return scope(s, function() return deep(d - 1) end) end
local y = conv2d(deep(4), 2, 1)
return model{input = x, output = flatten(y)}
