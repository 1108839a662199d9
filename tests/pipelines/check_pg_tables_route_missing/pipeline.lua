-- sluice check: a pg.sink writing several tables needs the field that routes records.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.pg.sink { dsn = "host=127.0.0.1 port=1",
                         tables = { { route = "a", table = "s.a" } } } },
}
