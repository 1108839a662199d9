-- sluice check: two tables of one pg.sink cannot take the same route.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.pg.sink { dsn = "host=127.0.0.1 port=1", route = "kind",
                         tables = { { route = "a", table = "s.a" },
                                    { route = "a", table = "s.b" } } } },
}
