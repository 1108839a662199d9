-- An empty CSV file (not even a header): no records, empty output files,
-- exit 0, and no error logged: an empty export is not a failure.
local sl = require "sluice"
return sl.pipeline {
  name    = "empty-csv",
  sources = { sl.file.source { path = "in.csv", format = "csv" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" }, sl.file.sink { path = "out.csv", format = "csv" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
