-- Names that would break or inject into the generated C if they reached
-- it unescaped: comment ends and starts, quotes, backslashes, trigraphs.
-- tests/test_generator.sh compiles the output and reads the names back.
local tag = param("tag", "t")
local x = input{1, 8, 8}
local y = conv2d(x, 4, 3, {padding = 1, name = "a*/ int evil; /*b"})
y = scope("s\"q??/", function() return relu(y, {name = "r\\\"x" .. tag}) end)
y = linear(flatten(y), 3, {name = "it's ?? fine"})
return model{input = x, output = y}
