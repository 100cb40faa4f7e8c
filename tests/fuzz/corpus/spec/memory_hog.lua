-- the memory limit: one string past it
local s = string.rep("x", 80 << 20)
return s
