-- sluice check: a misspelt plugin under a library (sl.file.sourse) names the
-- file and line and the nearest name, not "attempt to call a nil value".
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.sourse { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
