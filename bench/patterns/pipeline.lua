-- bench/pattern_run: the pattern work in one sluice step, one record.
local sl = require "sluice"
local work = require "work"
local times = tonumber(sl.env("BENCH_TIMES", "200000"))
return sl.pipeline {
  name    = "bench-patterns",
  limits  = { call_ms = 600000 },
  sources = { sl.file.source { path = sl.env("BENCH_IN") } },
  steps   = { function (rec) rec.seconds, rec.count = work(times) return rec end },
  sinks   = { sl.file.sink { path = sl.env("BENCH_OUT") } },
}
