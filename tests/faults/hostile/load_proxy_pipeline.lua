-- The file returns a table whose metamethods loop instead of sl.pipeline.
-- expect: refused pipeline\.lua: the file must return sl\.pipeline
return setmetatable({}, { __index = function () while true do end end })
