-- requires itself: spec_run names the fuzz input spec.lua
local again = require "spec"
return again
