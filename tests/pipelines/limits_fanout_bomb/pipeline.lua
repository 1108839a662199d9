-- A step that returns 200,000 tables for a record: more than the fan-out
-- limit (max_inflight_records records per batch), so that record goes to the
-- dead-letter sink with the reason before its output is copied, and the
-- other records pass, each with its two outputs.
local sl = require "sluice"
return sl.pipeline {
  name    = "fanout-bomb",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      local n = rec.bomb and 200000 or 2
      local out = {}
      for i = 1, n do out[i] = { id = rec.id, copy = i } end
      return out
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
