-- The shipped Lua sink `console` logs each record as JSON after its prefix,
-- at the level asked for (an enum option).  Logs are text here (case.json
-- passes --log-format text) so stderr holds the records as written.
local sl = require "sluice"
return sl.pipeline {
  name    = "console",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.console { prefix = "resident: ", level = "warn" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
