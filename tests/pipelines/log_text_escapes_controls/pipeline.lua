-- A newline (or another control character) in sl.log text, or in a stage's
-- name, cannot forge a log line: text logs escape it, one call is one line.
local sl = require "sluice"
return sl.pipeline {
  name    = "logesc",
  sources = { sl.file.source { path = "in.jsonl", name = "src\nERROR forged by a name" } },
  steps   = {
    function (rec)
      sl.log.warn("id " .. rec.id .. "\n2026-01-01T00:00:00.000Z ERROR forged by sl.log\27[2J")
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
