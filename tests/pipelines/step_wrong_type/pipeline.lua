-- A step must return a record, nil, or a list: a number, a string or true
-- sends that record to the dead-letter sink saying what came back.
local sl = require "sluice"
return sl.pipeline {
  name    = "wrong-type",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.ret == "number" then return 42 end
      if rec.ret == "string" then return "text" end
      if rec.ret == "true" then return true end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
