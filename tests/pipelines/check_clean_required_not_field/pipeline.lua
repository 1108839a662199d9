-- sluice check: a required field of sl.clean that is not among its fields
-- (here a misspelling) is refused with the step's line, the field and a hint;
-- otherwise every record would go to the dead-letter sink.
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-required",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { sl.clean { fields = { id_no = "cn_id", name = "trim" }, required = { "id_no", "nmae" } } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
