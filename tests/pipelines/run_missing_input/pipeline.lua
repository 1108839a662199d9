-- An input file that does not exist is the pipeline's mistake: exit 2, as
-- for every other invalid pipeline or usage, with the path and the line.
local sl = require "sluice"
return sl.pipeline {
  name    = "missing-input",
  sources = { sl.file.source { path = "nosuch.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
