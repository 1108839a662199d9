-- Restart consistency of a stateful step: the second run reads the whole
-- file again (--reset-checkpoint, as after a crash before any checkpoint),
-- and dedup's restore has rebuilt its keys from the sink's file, so every
-- replayed record is dropped as seen: out.jsonl is what one run wrote.
local sl = require "sluice"
return sl.pipeline {
  name       = "stateful-dedup-replay",
  workers    = 4,
  batch_size = 3,
  sources    = { sl.file.source { name = "in", path = "in.jsonl", format = "jsonl" } },
  steps      = {
    function (rec)
      if rec.key then rec.key = string.lower(rec.key) end
      return rec
    end,
    sl.dedup { key = "key", restore_from = "out.jsonl" },
    function (rec)
      rec.after = true
      return rec
    end,
  },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
