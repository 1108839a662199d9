-- A pipeline for tests/testing/test_runner.py: stamps each record with its
-- transport metadata, sluice's clock and an environment variable.
local sl = require "sluice"
local tag = sl.env("STAMP_TAG", "none")
return sl.pipeline {
  name = "stamp",
  sources = { sl.file.source { name = "a", path = "a.jsonl" }, sl.file.source { name = "b", path = "b.jsonl" } },
  steps = {
    function (rec)
      local m = rec:meta()
      rec.dept, rec.feed, rec.key = m.department, m.feed, m.key
      rec.now = sl.now_ms()
      rec.tag = tag
      if rec.skip then return nil end
      return rec
    end,
  },
  sinks = { sl.file.sink { name = "out", path = "out.jsonl" } },
}
