-- The shipped Lua source `sequence` (sl.sequence { to = 2500 }) with
-- batch_size = 1000: three reads (1000, 1000, 500); every number arrives
-- once and in order.
local sl = require "sluice"
return sl.pipeline {
  name       = "sequence",
  batch_size = 1000,
  sources    = { sl.sequence { to = 2500 } },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
