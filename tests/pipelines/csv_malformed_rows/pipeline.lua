-- Malformed CSV rows go to the dead-letter sink with the byte named: text
-- after a closing quote, a quote inside an unquoted field, and a quoted field
-- that is never closed (it runs to the end of the input).
local sl = require "sluice"
return sl.pipeline {
  name    = "csv-malformed",
  sources = { sl.file.source { path = "in.csv", format = "csv" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
