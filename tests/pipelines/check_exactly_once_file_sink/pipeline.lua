-- sluice check: exactly_once = true with a sink that cannot commit the
-- sources' positions in its transactions is refused at the sink's line.
local sl = require "sluice"
return sl.pipeline {
  name         = "c",
  exactly_once = true,
  sources      = { sl.kafka.source { brokers = "127.0.0.1:1", topics = { "in" }, group = "g" } },
  sinks        = { sl.file.sink { path = "out.jsonl" } },
}
