-- CSV rows longer than max_record_size go to the dead-letter sink and the
-- reader resumes at the next row (minding quotes: a line break inside a
-- quoted field does not end the row); every row after an oversized one
-- still arrives.
local sl = require "sluice"
return sl.pipeline {
  name    = "oversized-csv",
  -- read_size below max_record_size: an oversized record's end is not in
  -- the buffer when it is found too big, so the rest of it is skipped
  -- while reading on.
  sources = { sl.file.source { path = "in.csv", format = "csv", read_size = 64, max_record_size = 100 } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
