-- sl.match on bad input: a record without an id (absent or empty), one
-- whose id is an object and one whose compared field is an object or a
-- list go to the dead-letter sink
-- with the reason; the pipeline goes on, and the records after them are
-- matched as if the bad ones never came (record 2 links to record 1).
-- A number is read as its text (src_id 4, dob 20000101); null is missing.
local sl = require "sluice"
return sl.pipeline {
  name       = "match-bad-records",
  batch_size = 4,
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps      = {
    sl.match {
      domain   = "person",
      identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
      compare  = { name = { "exact" }, dob = { "exact" } },
      block    = { "dob" },
      model    = "model.json",
    },
  },
  sinks      = {
    sl.file.sink { path = "out.jsonl", format = "jsonl", where = function (r) return r._platform == nil end },
  },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
