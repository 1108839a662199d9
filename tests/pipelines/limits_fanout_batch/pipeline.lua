-- Records a step outputs for one batch count against limits.memory_mb too
-- (two lists of pointers: 2 MiB holds 131072 records), even when they cost
-- nothing else (the same record returned 15,000 times).  Records 1-8 make
-- 120,000; record 9 would pass the bound, so it and record 10 go to the
-- dead-letter sink with the reason, and the batch goes on.
local sl = require "sluice"
return sl.pipeline {
  name    = "fanout-batch",
  limits  = { memory_mb = 2 },
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      local out = {}
      for i = 1, 15000 do out[i] = rec end
      return out
    end,
  },
  sinks   = { sl.null {} },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
