-- sl.plugin "name" is the same constructor as sl.name: here the shipped
-- sequence source and mask step, both loaded that way.
local sl = require "sluice"
return sl.pipeline {
  name    = "plugin-call",
  sources = { sl.plugin "sequence" { from = 98, to = 102, field = "code" } },
  steps   = {
    function (rec) rec.code = tostring(rec.code * 1000) return rec end,
    sl.plugin "mask" { fields = { "code" }, keep_start = 1, keep_end = 2 },
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
