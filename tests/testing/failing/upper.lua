-- A pipeline for tests/testing/test_runner.py: upper-cases name, fails a
-- record without one.
local sl = require "sluice"
return sl.pipeline {
  name = "upper",
  sources = { sl.file.source { name = "people", path = "in.jsonl" } },
  steps = {
    function (rec)
      rec.name = rec.name:upper()
      return rec
    end,
  },
  sinks = { sl.file.sink { name = "out", path = "out.jsonl" } },
}
