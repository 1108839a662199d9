-- sluice check: a plugin name that does not exist (sl.nosuch) is refused
-- with the file and line of the use, and where sluice looked.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { sl.nosuch { x = 1 } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
