-- NaN, infinity and strings that are not UTF-8, set from Lua, are refused:
-- the record goes to the dead-letter sink with the reason, rather than being
-- written with null or with changed bytes.
local sl = require "sluice"
return sl.pipeline {
  name    = "nan-utf8",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.id == 1 then rec.x = 0/0 end
      if rec.id == 2 then rec.x = -math.huge end
      if rec.id == 3 then rec.x = "caf\xe9" end
      if rec.id == 4 then return { id = 4, x = { 1, math.huge } } end
      rec.ok = true
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
