-- sl.stdin to sl.stdout through a step; a bad line still goes to the
-- dead-letter file (its origin is "-", standard input).  Logs go to stderr,
-- so stdout holds only records (expected.@stdout is compared byte for byte).
local sl = require "sluice"
return sl.pipeline {
  name    = "stdio",
  sources = { sl.stdin { format = "jsonl" } },
  steps   = { function (rec) rec.name = rec.name:upper() return rec end },
  sinks   = { sl.stdout { format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
