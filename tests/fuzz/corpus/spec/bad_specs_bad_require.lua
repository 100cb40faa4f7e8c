-- expect: tests/bad_specs/bad_require.lua:2: error: require: bad module name '../secrets'
local s = require "../secrets"
return s
