-- grants = { os = true } opens the whole os library (os.getenv works) and
-- nothing else: io stays closed.
local sl = require "sluice"
return sl.pipeline {
  name    = "grant-os",
  grants  = { os = true },
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      rec.value = os.getenv("SLUICE_CASE_VALUE")
      rec.io = type(io)
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
