-- No dlq in the pipeline: dead letters go to <state dir>/<pipeline name>/
-- dlq.jsonl, never nowhere (run_case.py's expected.@state/ is the state dir).
local sl = require "sluice"
return sl.pipeline {
  name    = "no-dlq",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = { function (rec) if rec.id == 4 then error("no four") end return rec end },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
}
