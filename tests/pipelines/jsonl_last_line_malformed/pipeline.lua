-- A malformed last line without a newline (a truncated export) is a dead
-- letter like any other, not silently dropped.
local sl = require "sluice"
return sl.pipeline {
  name    = "last-malformed",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
