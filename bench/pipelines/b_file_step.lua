-- Bench case (b): file to file through one Lua step that reads two fields and
-- writes two; the same work as bench/baseline_cjson.lua.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-b-step",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), format = "jsonl" } },
  steps   = {
    function (rec)
      rec.name = string.upper(rec.name)
      rec.n = #rec.dept
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = sl.env("BENCH_OUT"), format = "jsonl" } },
  dlq     = sl.file.sink { path = sl.env("BENCH_OUT") .. ".dlq", format = "jsonl" },
}
