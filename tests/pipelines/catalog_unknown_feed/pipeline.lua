-- A record of a feed the catalog does not declare is a dead letter that
-- says what it carried; a feed "births.v2" is feed births.
local sl = require "sluice"
local catalog = require "catalog"
return sl.pipeline {
  name    = "catalog-unknown-feed",
  sources = { sl.file.source { path = "in.jsonl", department = "health", feed = "deaths.v1" } },
  steps   = { sl.clean { catalog = catalog } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
