-- sluice check: a source in the sinks list is refused, naming its position
-- and the line where that source was declared.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = {
    sl.file.sink { path = "out.jsonl" },
    sl.file.source { path = "other.jsonl" },
  },
}
