-- JSON Lines to CSV with `columns`: the header row is the columns; a field
-- outside them is not written, an absent one or null is an empty cell;
-- cells holding the delimiter, a quote, a line break or an edge space or tab
-- are quoted with "" for quotes; numbers and booleans are written as text and
-- containers as JSON.
local sl = require "sluice"
return sl.pipeline {
  name    = "jsonl-to-csv",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.csv", format = "csv", columns = { "id", "name", "note", "missing" } } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
