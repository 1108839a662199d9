-- "${seq}" as a whole field name is replaced like any string, but a name stays
-- a string: { ["${seq}"] = "v" } renders as {"1":"v"}, not as {1:"v"}.
local sl = require "sluice"
return sl.pipeline {
  name    = "generate-key",
  sources = { sl.generate { count = 2, template = { ["${seq}"] = "v", ["k${seq}"] = "${seq}" } } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
