local sl = require "sluice"
return sl.pipeline {
  name    = "bad-option",
  sources = { sl.file.source { pth = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
}
