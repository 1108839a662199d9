-- The cleansing benchmark's baseline: the same input and sink, no step.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-clean-baseline",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), format = "jsonl" } },
  sinks   = { sl.null {} },
  -- No dlq: dead letters (invalid identity numbers) go to the state folder.
}
