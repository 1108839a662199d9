-- The pipeline file's top level loops: stopped by the load budget (10 s).
-- expect: refused pipeline\.lua: the top level of the file ran out of its time budget
while true do end
