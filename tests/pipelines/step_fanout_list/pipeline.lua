-- A step that returns a list fans out: the records in it follow one another
-- in place of the input record, in list order; a plain table in the list is
-- a new record (fields in key order); the list may hold the input record
-- itself; an empty list drops the record.  Every output goes through the
-- next step.
local sl = require "sluice"
return sl.pipeline {
  name    = "fanout",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.kind == "split" then
        local parts = {}
        for i, item in ipairs(rec.items) do
          parts[#parts + 1] = { parent = rec.id, pos = i, item = item }
        end
        return parts
      end
      if rec.kind == "dup" then
        return { rec, { id = rec.id, copy = true, tags = { "x", "y" } } }
      end
      return rec
    end,
    function (rec)
      rec.step2 = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
