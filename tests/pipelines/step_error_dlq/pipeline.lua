-- A Lua step that raises for some records: each goes to the dead-letter sink
-- with stage "step.N" (N counts the steps from 1) and the error with the
-- pipeline file and line; the record in the envelope is the one the step
-- received.  The other records pass through both steps.
local sl = require "sluice"
return sl.pipeline {
  name    = "step-errors",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.fail == "first" then error("refused record " .. rec.id) end
      return rec
    end,
    function (rec)
      if rec.fail == "second" then return rec.nothing.here end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
