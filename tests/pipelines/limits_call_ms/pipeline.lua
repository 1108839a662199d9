-- An endless loop in a step, under limits.call_ms = 200: that record goes to
-- the dead-letter sink with the time budget message naming the line, the
-- worker's Lua state stays usable, and the other records pass.
local sl = require "sluice"
return sl.pipeline {
  name    = "endless",
  limits  = { call_ms = 200 },
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.loop then
        while true do end
      end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
