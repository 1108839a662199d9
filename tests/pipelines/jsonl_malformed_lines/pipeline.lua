-- Malformed JSON lines among good ones: each bad line goes to the dead-letter
-- sink with a reason that names the byte (0-based, within the line); the good
-- lines reach the sink in order; the run still exits 0.
local sl = require "sluice"
return sl.pipeline {
  name    = "malformed",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
