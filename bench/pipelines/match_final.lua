-- Matching benchmark, end to end on a file: the sl.match step with a preset
-- (BENCH_PRESET: person or company) and the model `sluice train` wrote
-- (BENCH_MODEL), over the generator's CSV (BENCH_IN); at the end of input
-- every record's final entity goes to BENCH_OUT as {"id", "entity"}, what
-- tests/match/score.py reads.  bench/match_vs_splink runs it.
local sl = require "sluice"
local preset = sl.env("BENCH_PRESET", "person")
return sl.pipeline {
  name    = "bench-match-final-" .. preset,
  sources = { sl.file.source { path = sl.env("BENCH_IN"), format = "csv" } },
  steps   = {
    sl.match {
      domain   = preset,
      identity = { dept = "department", feed = "feed", id = "id" },
      preset   = preset,
      model    = sl.env("BENCH_MODEL"),
      final    = true,
    },
  },
  sinks   = {
    sl.file.sink { path = sl.env("BENCH_OUT"), format = "jsonl",
                   where = function (r) return r._platform == nil and r.match == nil end },
  },
}
