-- sluice check: a file that does not return sl.pipeline { ... } (here it
-- builds one but forgets to return it) is refused, saying what it returned.
local sl = require "sluice"
local p = sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
