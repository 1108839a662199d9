-- sluice check: the options of a Lua plugin are declared and checked like a
-- C plugin's: a misspelt one is refused with a did-you-mean.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { sl.mask { feilds = { "phone" } } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
