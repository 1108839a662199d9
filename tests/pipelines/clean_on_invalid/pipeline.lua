-- on_invalid for fields that are not required: "null" for the step, with
-- one field kept as it was and one that sends the record to the dead-letter
-- sink.  A Lua step after it shows the outcomes rec:meta().clean carries.
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-on-invalid",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.clean {
      fields = {
        phone      = "cn_phone",
        birth      = "date",
        email_date = { "date", on_invalid = "keep" },
        credit     = { "uscc", on_invalid = "dlq" },
      },
      on_invalid = "null",
    },
    function (rec)
      local seen = {}
      for field, o in pairs(rec:meta().clean) do
        seen[#seen + 1] = field .. ":" .. o.outcome .. (o.reason and (" (" .. o.reason .. ")") or "")
      end
      table.sort(seen)
      rec.outcomes = table.concat(seen, ", ")
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
