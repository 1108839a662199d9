-- A file source straight into a file sink, no steps: every record leaves as it
-- came in, whatever its types, nesting, escapes or Unicode.
local sl = require "sluice"
return sl.pipeline {
  name    = "passthrough",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
