-- A step that returns nil drops the record: it reaches no sink and is not a
-- dead letter; a later step never sees it.
local sl = require "sluice"
return sl.pipeline {
  name    = "drop",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.id % 2 == 0 then return nil end
      return rec
    end,
    function (rec)
      if rec.id % 2 == 0 then error("a dropped record reached step 2") end
      rec.kept = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
