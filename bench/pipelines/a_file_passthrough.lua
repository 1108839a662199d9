-- Bench case (a): JSON Lines file to JSON Lines file, no step.
-- BENCH_IN and BENCH_OUT are absolute paths set by bench/run.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-a-passthrough",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), format = "jsonl" } },
  sinks   = { sl.file.sink { path = sl.env("BENCH_OUT"), format = "jsonl" } },
  dlq     = sl.file.sink { path = sl.env("BENCH_OUT") .. ".dlq", format = "jsonl" },
}
