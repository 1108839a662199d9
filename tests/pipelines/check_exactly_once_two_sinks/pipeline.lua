-- sluice check: exactly_once = true needs one sink: two transactions could
-- not commit one source position atomically.
local sl = require "sluice"
return sl.pipeline {
  name         = "c",
  exactly_once = true,
  sources      = { sl.kafka.source { brokers = "127.0.0.1:1", topics = { "in" }, group = "g" } },
  sinks        = {
    sl.kafka.sink { brokers = "127.0.0.1:1", topic = "a" },
    sl.kafka.sink { brokers = "127.0.0.1:1", topic = "b" },
  },
}
