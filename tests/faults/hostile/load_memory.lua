-- The pipeline file's top level allocates without end.
-- expect: refused pipeline\.lua: the top level of the file ran out of its memory budget
local t = {}
for i = 1, 1e9 do t[i] = ("x"):rep(1000000) .. i end
