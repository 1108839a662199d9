-- In a step a JSON null reads as sl.json.null (not nil: the field exists) and
-- writing sl.json.null writes a JSON null; nil removes a field.
local sl = require "sluice"
return sl.pipeline {
  name    = "json-null",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      rec.was_null = rec.note == sl.json.null
      rec.present = rec.note ~= nil
      rec.cleared = sl.json.null
      rec.gone = nil
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
