-- The last line has no newline: it is still a record, and the sink ends it
-- with one (out.ndjson is compared byte for byte).
local sl = require "sluice"
return sl.pipeline {
  name    = "no-final-newline",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.ndjson", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
