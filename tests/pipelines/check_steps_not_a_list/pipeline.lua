-- sluice check: one step not wrapped in a list is explained as such.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = sl.clean { fields = { id_no = "cn_id" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
