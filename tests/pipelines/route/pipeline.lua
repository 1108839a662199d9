-- A step that drops records (returns nil) and two sinks that each take the
-- records their `where` accepts; a record both accept goes to both.
local sl = require "sluice"
return sl.pipeline {
  name    = "route",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.status == "deleted" then return nil end
      return rec
    end,
  },
  sinks   = {
    sl.file.sink {
      path  = "health.jsonl",
      format = "jsonl",
      where = function (rec) return rec.dept == "health" end,
    },
    sl.file.sink {
      path  = "adults.jsonl",
      format = "jsonl",
      where = function (rec) return rec.age ~= nil and rec.age >= 18 end,
    },
  },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
