-- sluice check: two stages with the same name are refused, naming both
-- places as file:line.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = {
    sl.file.sink { path = "a.jsonl", name = "out" },
    sl.file.sink { path = "b.jsonl", name = "out" },
  },
}
