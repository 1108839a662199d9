-- The clean step end to end: every rule kind on resident records, fields
-- written back when fixed, a derived field (from =), required fields, and
-- dead letters that list every failed field.  Invalid fields that are not
-- required are kept as they were (on_invalid = "keep", the default).
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-basic",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.clean {
      fields = {
        id_no   = "cn_id",
        name    = { "trim", "nfkc", "t2s" },
        phone   = "cn_phone",
        birth   = { "date", output = "date" },
        addr    = "cn_address",
        credit  = "uscc",
        name_py = { "pinyin", from = "name" },
      },
      required = { "id_no", "name" },
    },
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
