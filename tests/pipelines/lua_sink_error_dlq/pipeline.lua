-- A Lua sink whose write raises sends that whole batch to the dead-letter
-- sink (stage: the sink's name; error: the message) in input order; the
-- other batches are acknowledged, and the other sink gets every record.
-- batch_size = 2 makes the batches [1,2] [3,4] [5].
local sl = require "sluice"
return sl.pipeline {
  name       = "lua-sink-error",
  batch_size = 2,
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks      = { sl.failsink { }, sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
