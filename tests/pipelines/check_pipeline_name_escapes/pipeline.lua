-- sluice check: a pipeline name is a folder under the state root, so one
-- that would leave it ("../../x") is refused, naming the rule.
local sl = require "sluice"
return sl.pipeline {
  name    = "../../x",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
