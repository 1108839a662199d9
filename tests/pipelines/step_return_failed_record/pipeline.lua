-- A step keeps record 1, fails on it, and returns it again with record 2:
-- record 1 is dead-lettered once, with the reason of its first failure;
-- record 2 is dead-lettered because its step returned a record from
-- another call (a view lives only in the call that received it).
local sl = require "sluice"
local kept
return sl.pipeline {
  name    = "return-failed",
  workers = 1,
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.id == 1 then kept = rec error("first failure", 0) end
      if rec.id == 2 then return { rec, kept } end
      return rec
    end,
    function (rec)
      if rec.id == 1 then error("second failure", 0) end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
