-- expect: tests/bad_specs/name_newline.lua:4: error: scope: name may hold printable ASCII characters only (byte 2 is 10)
-- A newline (or any control byte) in a name: rejected, never written to C.
local x = input{1, 8, 8}
local y = scope("a\nb", function() return conv2d(x, 4, 3) end)
return model{input = x, output = flatten(y)}
