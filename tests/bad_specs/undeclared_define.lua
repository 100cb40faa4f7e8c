-- expect: tests/bad_specs/undeclared_define.lua: error: -D depht=56: the spec declares no param("depht", ...)
-- args: -D depht=56
local depth = param("depth", 20)
local x = input{depth}
return model{input = x, output = linear(x, 2)}
