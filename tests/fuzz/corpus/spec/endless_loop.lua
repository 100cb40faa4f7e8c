-- the instruction limit
while true do end
