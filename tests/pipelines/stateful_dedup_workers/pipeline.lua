-- A stateful step between two Lua steps, with four workers and batches of
-- three records: the step before runs on all workers, dedup sees each
-- record in the file's order on its own lane and keeps the first of each
-- key, the step after sees only what dedup kept.  The output is the first
-- record of every key in input order, whatever the workers' timing; the
-- record without a key is a dead letter with dedup's reason.
local sl = require "sluice"
return sl.pipeline {
  name       = "stateful-dedup",
  workers    = 4,
  batch_size = 3,
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps      = {
    function (rec)
      if rec.key then rec.key = string.lower(rec.key) end
      return rec
    end,
    sl.dedup { key = "key" },
    function (rec)
      rec.after = true
      return rec
    end,
  },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
