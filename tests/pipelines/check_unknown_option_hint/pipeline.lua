-- sluice check: a misspelt option of a plugin is refused with the file and
-- line of the call and the nearest known name.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl", formt = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
