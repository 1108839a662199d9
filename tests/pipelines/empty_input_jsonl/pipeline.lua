-- An empty JSON Lines file: no records, an empty output file, exit 0.
local sl = require "sluice"
return sl.pipeline {
  name    = "empty-jsonl",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
