-- Two file sinks with `where`: each writes only the records its function
-- accepts, in input order; a record both accept goes to both, one neither
-- accepts goes nowhere (it is not a dead letter).
local sl = require "sluice"
return sl.pipeline {
  name    = "where-routing",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = {
    sl.file.sink { path = "health.jsonl", where = function (rec) return rec.dept == "health" end },
    sl.file.sink { path = "adults.jsonl", where = function (rec) return (rec.age or 0) >= 18 end },
  },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
