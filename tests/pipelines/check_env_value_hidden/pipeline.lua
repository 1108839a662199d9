-- sluice check: a wrong option whose value came from sl.env is reported
-- without the value (it may be a credential): "<from env NAME>" instead.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl", format = sl.env("SLUICE_TEST_FORMAT") } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
