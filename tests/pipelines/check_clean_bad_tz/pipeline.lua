-- sluice check: a wrong tz is blamed on the step option, not on a field.
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-bad-tz",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { sl.clean { fields = { birth = "date" }, tz = "Mars/Phobos" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
