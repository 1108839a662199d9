-- Blank lines (empty, CR only, spaces and tabs) are skipped, not dead letters;
-- CRLF endings lose their CR.  The sink writes out.ndjson, which the runner
-- compares byte for byte, so a stray CR in the output would show.  The bad
-- line's number and offset count the blank lines and the CRs before it.
local sl = require "sluice"
return sl.pipeline {
  name    = "blank-crlf",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.ndjson", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
