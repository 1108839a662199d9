-- Matching benchmark: the person preset over synthetic residents
-- (tests/match/gen.py); `sluice train` reads it for its sl.match step, the
-- model goes to BENCH_MODEL.  Input path from BENCH_IN.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-match-person",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), format = "csv" } },
  steps   = {
    sl.match {
      domain   = "person",
      identity = { dept = "department", feed = "feed", id = "src_id" },
      preset   = "person",
      model    = sl.env("BENCH_MODEL"),
    },
  },
  sinks   = { sl.null {} },
}
