-- sluice check catches a misspelt cleansing rule too, with the step's line.
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
