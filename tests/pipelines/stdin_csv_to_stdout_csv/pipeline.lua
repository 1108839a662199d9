-- CSV on standard input to CSV on standard output, with a different
-- delimiter and columns on the way out.
local sl = require "sluice"
return sl.pipeline {
  name    = "stdio-csv",
  sources = { sl.stdin { format = "csv" } },
  sinks   = { sl.stdout { format = "csv", delimiter = ";", columns = { "name", "id" } } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
