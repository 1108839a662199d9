-- A CSV row with more fields than the header goes to the dead-letter sink
-- (saying how many); the rows around it pass.  Line numbers count the header.
local sl = require "sluice"
return sl.pipeline {
  name    = "csv-wide",
  sources = { sl.file.source { path = "in.csv", format = "csv" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
