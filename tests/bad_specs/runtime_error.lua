-- expect: tests/bad_specs/runtime_error.lua:3: error: attempt to index a nil value (local 'cfg')
local cfg
local width = cfg.width
return width
