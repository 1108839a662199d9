-- sluice check on a valid pipeline (steps, a Lua plugin, a sink with where,
-- a dlq): exit 0, "ok" on stdout, nothing run (no output file made).
local sl = require "sluice"
return sl.pipeline {
  name    = "valid",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { function (rec) return rec end, sl.mask { fields = { "phone" } } },
  sinks   = { sl.file.sink { path = "out.jsonl", where = function (rec) return true end } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
