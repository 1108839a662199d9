-- A small pipeline whose coverage tests/testing/test_runner.py knows.
local sl = require "sluice"
return sl.pipeline {
  name = "branch",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps = {
    function (rec)
      if rec.n > 10 then
        rec.big = true
      else
        rec.big = false
      end
      return rec
    end,
  },
  sinks = { sl.file.sink { name = "out", path = "out.jsonl" } },
}
