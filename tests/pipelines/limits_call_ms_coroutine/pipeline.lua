-- Coroutine ping-pong under limits.call_ms = 200: both sides switch after a
-- few instructions, and the record still goes to the dead-letter sink with
-- the time budget message; the other records pass.
local sl = require "sluice"
return sl.pipeline {
  name    = "endless",
  limits  = { call_ms = 200 },
  workers = 1,
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.loop then
        local co = coroutine.wrap(function () while true do coroutine.yield() end end) while true do co() end
      end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
