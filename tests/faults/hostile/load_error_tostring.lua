-- The file raises an error whose __tostring raises again.
-- expect: refused pipeline\.lua
error(setmetatable({}, { __tostring = function () error("again") end }))
