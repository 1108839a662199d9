-- sl.clean { catalog = ... }: each record checked against its feed's schema
-- (types, required fields) and cleaned by its fields' rules; a record of no
-- feed of the catalog, or that breaks its feed's schema, is a dead letter
-- with the reason.  The source says the department and feed of what it reads.
local sl = require "sluice"
local catalog = require "catalog"
return sl.pipeline {
  name    = "catalog-schema",
  sources = {
    sl.file.source { name = "births", path = "births.jsonl", department = "health", feed = "births" },
  },
  steps   = { sl.clean { catalog = catalog } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
