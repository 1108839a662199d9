-- A step that allocates without end, under limits.memory_mb = 32: that record
-- goes to the dead-letter sink with the memory budget message, the state
-- recovers (the garbage is collected), and the other records pass.
local sl = require "sluice"
return sl.pipeline {
  name    = "memory-bomb",
  limits  = { memory_mb = 32 },
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.bomb then
        local t, s = {}, string.rep("x", 1024)
        for i = 1, 1e9 do t[i] = s .. i end
      end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
