-- sl.match's `time`: a record's own time (RFC 3339) orders its versions
-- and drives the golden record's "recent" rule and provenance, whatever
-- order the records arrive in.  Record 2 arrives after record 1 but is
-- older: record 1's phone stays golden.  The second version of record 1
-- is older than the one held: stale, nothing changes (it comes out with
-- its entity as a replay).  A time that does not read (record 3, an object
-- in record 5) goes to the dead letters with the reason; record 4, the
-- newest, gives the golden phone.  (A record without the field takes its
-- event time, else its arrival.)
local sl = require "sluice"
return sl.pipeline {
  name       = "match-record-time",
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps      = {
    sl.match {
      domain   = "person",
      identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
      compare  = { name = { "exact" }, dob = { "exact" } },
      block    = { "dob" },
      fields   = { phone = "raw" },
      golden   = { phone = { "recent" } },
      model    = "model.json",
      time     = "updated",
    },
  },
  sinks      = {
    sl.file.sink { path = "entities.jsonl", format = "jsonl",
                   where = function (r) return r._platform == "entity" end },
  },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
