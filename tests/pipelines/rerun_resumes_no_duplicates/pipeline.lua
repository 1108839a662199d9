-- Run twice with the same state folder (case.json runs = 2): the second run
-- resumes after the last durable record, so neither the output nor the dead
-- letters hold anything twice.
local sl = require "sluice"
return sl.pipeline {
  name       = "rerun",
  batch_size = 2,
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl", name = "residents" } },
  steps      = { function (rec) rec.seen = true return rec end },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
