-- A template function that loops (coroutine ping-pong) under
-- limits.call_ms = 200.  It runs on the loop thread: record 4 goes to the
-- dead-letter sink with the budget message, the records before it are
-- written, and the source stops with an error (exit 1) instead of stalling
-- the loop for every record after it.
local sl = require "sluice"
return sl.pipeline {
  name       = "generate-loop",
  batch_size = 3,
  limits     = { call_ms = 200 },
  sources    = {
    sl.generate {
      count = 100,
      template = function (seq)
        if seq == 4 then
          local co = coroutine.wrap(function () while true do coroutine.yield() end end) while true do co() end
        end
        return { id = seq }
      end,
    },
  },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
