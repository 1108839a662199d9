-- A step that returns a plain table makes a new record of it: nested tables
-- become objects and arrays, sl.json.null a JSON null, and a whole float
-- is written as 1.  The new record keeps the input record's source: when a
-- later step fails it, the envelope names the input line, holds the new
-- fields and has no raw text.
local sl = require "sluice"
return sl.pipeline {
  name    = "new-record",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      return {
        id = rec.id,
        full = rec.first .. " " .. rec.last,
        tags = { "a", "b" },
        addr = { city = "Beijing", zip = "100010" },
        none = sl.json.null,
        ratio = rec.id / 2,
      }
    end,
    function (rec)
      if rec.id == 2 then error("step 2 refuses id 2") end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
