-- newer_by must be one of the columns written, and not a key column.
local sl = require "sluice"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.pg.sink { dsn = "host=127.0.0.1 port=1", table = "residents", mode = "upsert",
                         key = { "id_no" }, columns = { "id_no", "name" },
                         newer_by = "updated_at" } },
}
