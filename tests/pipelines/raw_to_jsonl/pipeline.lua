-- format = "raw": each line is one record with a single string field
-- `message` (CRLF loses its CR, blank lines are skipped); a raw sink writes
-- the message back as a line; a line that is not UTF-8 is a dead letter.
local sl = require "sluice"
return sl.pipeline {
  name    = "raw",
  sources = { sl.file.source { path = "in.txt", format = "raw" } },
  sinks   = {
    sl.file.sink { path = "out.jsonl", format = "jsonl" },
    sl.file.sink { path = "out.txt", format = "raw" },
  },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
