-- bench/pg_run: JSON Lines file -> pg.sink, no step.
-- BENCH_NAME, BENCH_IN, BENCH_DSN, BENCH_TABLE, BENCH_MODE (insert | upsert) and BENCH_KEY come
-- from bench/pg_run.
local sl = require "sluice"
return sl.pipeline {
  name    = sl.env("BENCH_NAME"),
  batch_size = 4096,
  max_inflight_records = 65536,
  max_inflight_bytes = "128MiB",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), name = "in" } },
  sinks   = { sl.pg.sink { dsn = sl.env("BENCH_DSN"), table = sl.env("BENCH_TABLE"),
                           mode = sl.env("BENCH_MODE"), key = sl.env("BENCH_KEY") } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ") },
}
