-- sluice check: an option of the wrong type (path = 5) is refused.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = 5 } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
