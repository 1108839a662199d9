-- sluice check: exactly_once = true needs sources that hand their positions
-- to a transactional sink; a file source cannot, and the error names it.
local sl = require "sluice"
return sl.pipeline {
  name         = "c",
  exactly_once = true,
  sources      = { sl.file.source { path = "in.jsonl" } },
  sinks        = { sl.kafka.sink { brokers = "127.0.0.1:1", topic = "out" } },
}
