-- The pipeline test_match_step.c loads (its fake source and sinks run no
-- code): an sl.match step with no model, trained at the end of input.
local sl = require "sluice"
return sl.pipeline {
  name    = "match-finish",
  sources = { sl.fake.source {} },
  steps   = {
    sl.match { domain = "person", identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "id" },
               compare = { name = { "exact", "jw0.8" }, dob = { "exact" }, phone = { "exact" } }, block = { "dob", "name" },
               random_pairs = 20000, final = true },
  },
  sinks   = { sl.fake.sink {} },
  dlq     = sl.fake.sink {},
}
