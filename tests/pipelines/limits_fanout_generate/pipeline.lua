-- The fan-out bomb over sl.generate: each record that returns 200,000
-- tables goes to the dead-letter sink with the reason (no log line per
-- record, nothing lost), and the others are written.
local sl = require "sluice"
return sl.pipeline {
  name    = "fanout-generate",
  sources = { sl.generate { count = 4, template = { n = "${seq}" } } },
  steps   = {
    function (rec)
      local n = rec.n % 2 == 0 and 200000 or 1
      local out = {}
      for i = 1, n do out[i] = { n = rec.n, copy = i } end
      return out
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
