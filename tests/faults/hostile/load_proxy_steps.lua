-- sl.pipeline's steps is a proxy whose __len and __index loop.
-- expect: refused pipeline\.lua.*(time budget|steps)
local sl = require "sluice"
return sl.pipeline {
  name = "x",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps = setmetatable({}, { __len = function () while true do end end, __index = function () while true do end end }),
  sinks = { sl.file.sink { path = "out.jsonl" } },
}
