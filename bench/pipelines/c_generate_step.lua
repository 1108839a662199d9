-- Bench case (c): records made in memory, the same step as (b), thrown away:
-- the runtime and the Lua step without file I/O or JSON decoding.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-c-generate",
  sources = {
    sl.generate {
      count    = tonumber(sl.env("BENCH_COUNT")),
      template = {
        id = 1, name = "Wang Xiuying", dept = "civil",
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
  },
  sinks   = { sl.null {} },
  -- No dlq: dead letters (there should be none) go to the state folder.
}
