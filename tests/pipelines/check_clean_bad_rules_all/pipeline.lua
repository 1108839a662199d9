-- sluice check: every unknown cleansing rule is reported, each with the
-- nearest rule, and the known rules are listed.
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-bad-rules",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { sl.clean { fields = { id_no = "cn_idd", phone = { "trim", "cn_phoen" }, x = "zzzzzz" } } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
