-- A CSV sink without `columns` takes the first record's fields as its
-- columns, in their order; later records are written in those columns.
local sl = require "sluice"
return sl.pipeline {
  name    = "csv-first-columns",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.csv", format = "csv" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
