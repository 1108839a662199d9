-- A CSV file with a header and no rows: no records, empty outputs, exit 0.
local sl = require "sluice"
return sl.pipeline {
  name    = "csv-header-only",
  sources = { sl.file.source { path = "in.csv", format = "csv" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" }, sl.file.sink { path = "out.csv", format = "csv" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
