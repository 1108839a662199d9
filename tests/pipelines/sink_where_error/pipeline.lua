-- A `where` that raises sends that record to the dead-letter sink, with the
-- sink's name as the stage (here the `name` option, "adults") and the error
-- prefixed "where: "; the other records are routed as usual.
local sl = require "sluice"
return sl.pipeline {
  name    = "where-error",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = {
    sl.file.sink { path = "health.jsonl", where = function (rec) return rec.dept == "health" end },
    sl.file.sink {
      name  = "adults",
      path  = "adults.jsonl",
      where = function (rec) return rec.age >= 18 end,
    },
  },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
