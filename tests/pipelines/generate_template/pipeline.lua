-- sl.generate with a template table: "${seq}" as a whole string becomes the
-- number, inside a string it is replaced; 10 records across batches of 4.
-- out.ndjson is compared byte for byte (fields in key order).
local sl = require "sluice"
return sl.pipeline {
  name       = "generate",
  batch_size = 4,
  sources    = { sl.generate { count = 10, template = { id = "${seq}", name = "n${seq}" } } },
  sinks      = { sl.file.sink { path = "out.ndjson", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
