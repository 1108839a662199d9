-- sluice check: each table of a pg.sink writing several is checked like a
-- single table's options: an upsert needs its key, newer_by a written column.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.pg.sink { dsn = "host=127.0.0.1 port=1", route = "kind",
                         tables = { { route = "a", table = "s.a", mode = "upsert", key = "id" },
                                    { route = "b", table = "s.b", mode = "upsert" } } } },
}
