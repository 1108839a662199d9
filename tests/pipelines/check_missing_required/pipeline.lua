-- sluice check: a required option that is missing (file.source without
-- path) is refused.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
