-- sluice check: one source not wrapped in a list is explained as such.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = sl.file.source { path = "in.jsonl" },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
