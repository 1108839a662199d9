-- A misspelt rule stops the pipeline before it starts, naming the field,
-- the rule, the nearest rule and the line of the step (its `fields`).
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-bad-rule",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.clean {
      fields = { id_no = "cn_idd", phone = "cn_phone" },
    },
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
