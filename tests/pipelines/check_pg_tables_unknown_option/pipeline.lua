-- sluice check: an entry of tables with an option pg.sink does not know.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.pg.sink { dsn = "host=127.0.0.1 port=1", route = "kind",
                         tables = { { route = "a", table = "s.a", newer = "v" } } } },
}
