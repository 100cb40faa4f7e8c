-- expect: tests/bad_specs/syntax_error.lua:3: error: unexpected symbol near ')'
local x = input{1, 8, 8}
local y = conv2d(x, 4, 3, ))
return model{input = x, output = y}
