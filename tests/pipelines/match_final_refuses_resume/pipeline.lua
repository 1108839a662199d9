-- final = true is a batch job over the whole input: a source that would
-- resume from a saved checkpoint (here one left in the state folder by an
-- earlier run) would give the entities of part of the input, so the
-- pipeline does not start (exit 3) and says to rerun from the start.
local sl = require "sluice"
return sl.pipeline {
  name    = "match-final",
  sources = { sl.file.source { name = "people", path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.match {
      domain   = "person",
      identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
      compare  = { name = { "exact" }, dob = { "exact" } },
      block    = { "dob" },
      final    = true,
    },
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
