-- CSV (RFC 4180) to JSON Lines: the header names the fields; quoted fields
-- keep commas, "" stands for one quote, and a line break inside quotes (LF
-- or CRLF) is data; rows end in CRLF; a short row lacks the missing fields;
-- every value is a string; the last row has no line break.
local sl = require "sluice"
return sl.pipeline {
  name    = "csv-to-jsonl",
  sources = { sl.file.source { path = "in.csv", format = "csv" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
