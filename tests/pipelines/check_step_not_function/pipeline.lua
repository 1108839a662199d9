-- sluice check: a step that is neither a function nor a step plugin (a
-- string) is refused, naming the step's position.  The message must not
-- suggest a plugin that does not exist (there is no sl.file.step).
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { function (rec) return rec end, "upper" },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
