-- Bench case (d): case (c) with a stateful step after the Lua step: every
-- batch goes from the workers to dedup's lane (one thread, in order) and
-- back to the workers.  Every key is new, so dedup's set grows to COUNT
-- keys and every record passes: the lane's throughput with a growing state.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-d-stateful",
  sources = {
    sl.generate {
      count    = tonumber(sl.env("BENCH_COUNT")),
      template = {
        id = "${seq}", name = "Wang Xiuying", dept = "civil",
        id_no = "110101199003074514", phone = "13812345678",
        addr = "东城区景山街12号", birth = "1990-03-07", sex = "F",
        status = "active", updated = 1714552200,
      },
    },
  },
  steps   = {
    function (rec)
      rec.name = string.upper(rec.name)
      rec.n = #rec.dept
      return rec
    end,
    sl.dedup { key = "id" },
  },
  sinks   = { sl.null {} },
}
