-- A step that sets 200 fields of 16 MiB each on a record, under
-- limits.memory_mb = 64: the values are copied into the batch, whose growth
-- while steps run counts against memory_mb, so the record goes to the
-- dead-letter sink (with its raw bytes only) once it passes 64 MiB; what it
-- made is freed, and the other records of the batch pass.  call_ms is
-- raised so that memory, not time, stops the step on a slow (ASan) build.
local sl = require "sluice"
return sl.pipeline {
  name    = "big-fields",
  limits  = { memory_mb = 64, call_ms = 60000 },
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.bomb then
        for i = 1, 200 do rec["f" .. i] = string.rep("x", 16 << 20) end
      end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
