-- sluice check: a misspelt option of sl.pipeline itself is refused the same
-- way, naming the line of the sl.pipeline call.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  batchsize = 10,
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
