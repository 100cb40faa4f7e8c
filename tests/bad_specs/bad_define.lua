-- expect: tests/bad_specs/bad_define.lua:3: error: param: -D depth=deep is not a number
-- args: -D depth=deep
local depth = param("depth", 20)
local x = input{depth}
return model{input = x, output = linear(x, 2)}
