-- A JSON Lines record must be an object: a line holding a valid array,
-- string, number or literal goes to the dead-letter sink saying what it got;
-- an invalid one says where it breaks.
local sl = require "sluice"
return sl.pipeline {
  name    = "not-object",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
