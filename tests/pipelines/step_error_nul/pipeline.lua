-- error("a\0b", 0): the dead letter's reason is the whole message, the NUL
-- written as \0, with no position (level 0) and no traceback.
local sl = require "sluice"
return sl.pipeline {
  name    = "error-nul",
  sources = { sl.generate { count = 1 } },
  steps   = { function (rec) error("a\0b", 0) end },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
