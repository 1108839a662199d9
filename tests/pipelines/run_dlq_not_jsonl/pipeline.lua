-- A dead-letter sink that cannot hold the JSON envelopes is the pipeline's
-- mistake: exit 2, before any record is read.
local sl = require "sluice"
return sl.pipeline {
  name    = "dlq-csv",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.csv", format = "csv" },
}
