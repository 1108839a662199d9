-- Bench case (c): records made in memory, the same step as (b), thrown away:
-- the runtime and the Lua step without file I/O or JSON decoding.
-- Case (d) is the same with BENCH_STATEFUL=1: a stateful step (dedup) after
-- the Lua step, so every batch goes from the workers to dedup's lane (one
-- thread, in order) and back.  Every id is new then, so dedup's set grows to
-- COUNT keys and every record passes: (d)/(c) is the price of a lane with a
-- growing state.
local sl = require "sluice"
local stateful = sl.env("BENCH_STATEFUL") == "1"
local steps = {
  function (rec)
    rec.name = string.upper(rec.name)
    rec.n = #rec.dept
    return rec
  end,
}
if stateful then steps[#steps + 1] = sl.dedup { key = "id" } end
return sl.pipeline {
  name    = stateful and "bench-d-stateful" or "bench-c-generate",
  sources = {
    sl.generate {
      count    = tonumber(sl.env("BENCH_COUNT")),
      template = {
        id = stateful and "${seq}" or 1, name = "Wang Xiuying", dept = "civil",
        id_no = "110101199003074514", phone = "13812345678",
        addr = "东城区景山街12号", birth = "1990-03-07", sex = "F",
        status = "active", updated = 1714552200,
      },
    },
  },
  steps   = steps,
  sinks   = { sl.null {} },
  -- No dlq: dead letters (there should be none) go to the state folder.
}
