-- sluice check: a Lua syntax error (a missing comma) is reported with the
-- file and line where Lua noticed it.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } }
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
