-- A message handler that loops, under limits.call_ms = 200: the budget error
-- is raised inside the handler, and the script's handler is not run again,
-- so the record goes to the dead-letter sink; the other records pass.
local sl = require "sluice"
return sl.pipeline {
  name    = "endless",
  limits  = { call_ms = 200 },
  workers = 1,
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.loop then
        xpcall(error, function () while true do end end)
      end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
