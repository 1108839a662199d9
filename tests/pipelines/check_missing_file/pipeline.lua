-- sluice check of a file that does not exist: one clear line, exit 2.
-- (This pipeline.lua is not used: case.json names missing.lua.)
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
