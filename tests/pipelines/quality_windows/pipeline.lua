-- sl.quality over day windows with a watermark: records out of order within
-- the lateness, one after its window closed (late), a duplicate key, a
-- missing field, an invalid ID, a dead letter from sl.clean; the closed
-- windows' score rows are what the test compares (their updated_at, the
-- wall clock, removed).
local sl = require "sluice"
local catalog = require "catalog"
return sl.pipeline {
  name    = "quality-windows",
  sources = { sl.file.source { path = "births.jsonl", department = "health", feed = "births" } },
  steps   = {
    sl.clean { catalog = catalog },
    sl.quality { catalog = catalog, periods = { "day" }, lateness = "2h", arrival = "arrived_at" },
    function (r)
      if r._quality then r.updated_at = nil end
      return r
    end,
  },
  sinks   = {
    sl.file.sink { path = "out.jsonl", where = function (r) return r._quality == nil end },
    sl.file.sink { path = "scores.jsonl",
                   where = function (r) return r._quality == "score" and r.closed end },
  },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
