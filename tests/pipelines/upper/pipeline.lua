-- One Lua step that upper-cases the name field; records without a name pass
-- through unchanged.
local sl = require "sluice"
return sl.pipeline {
  name    = "upper",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.name then rec.name = rec.name:upper() end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
