-- sluice check: table and tables exclude each other.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.pg.sink { dsn = "host=127.0.0.1 port=1", route = "kind", table = "s.a",
                         tables = { { route = "a", table = "s.a" } } } },
}
