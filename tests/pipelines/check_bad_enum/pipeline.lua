-- sluice check: a value outside an enum's choices (format = "xml") is
-- refused, listing the choices.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl", format = "xml" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
