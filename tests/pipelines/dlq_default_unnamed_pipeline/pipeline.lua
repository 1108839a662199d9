-- No name and no dlq: the pipeline is named after its file, so dead letters
-- go to <state dir>/pipeline/dlq.jsonl.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
}
