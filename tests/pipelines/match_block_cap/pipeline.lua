-- A blocking key shared by more records than block_cap stops being looked
-- up: records 2 and 3 find 1 through the dob block (of 1, then 2 records:
-- within the cap of 2); then it holds 3, over the cap, so record 4 finds no
-- candidate and is an entity of its own.  The cap is logged once (stderr)
-- and counted, never silently slow.
local sl = require "sluice"
return sl.pipeline {
  name       = "match-block-cap",
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps      = {
    sl.match {
      domain    = "person",
      identity  = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
      compare   = { name = { "exact" }, dob = { "exact" } },
      block     = { "dob" },
      block_cap = 2,
      model     = "model.json",
    },
  },
  sinks      = {
    sl.file.sink { path = "out.jsonl", format = "jsonl", where = function (r) return r._platform == nil end },
  },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
