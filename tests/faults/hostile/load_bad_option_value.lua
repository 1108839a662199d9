-- An option whose value is a table with a looping __tostring, for the error message.
-- expect: refused pipeline\.lua:\d+: file\.source: option 'path'
local sl = require "sluice"
return sl.pipeline {
  name = "x",
  sources = { sl.file.source { path = setmetatable({}, { __tostring = function () while true do end end }) } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
}
