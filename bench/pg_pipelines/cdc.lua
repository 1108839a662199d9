-- bench/pg_run: pg.cdc -> null sink, to measure the CDC source alone.
-- BENCH_DSN, BENCH_SLOT and BENCH_PUB come from bench/pg_run.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-pg-cdc",
  batch_size = 4096,
  max_inflight_records = 65536,
  max_inflight_bytes = "128MiB",
  sources = { sl.pg.cdc { dsn = sl.env("BENCH_DSN"), slot = sl.env("BENCH_SLOT"),
                          publication = sl.env("BENCH_PUB"), snapshot = false,
                          status_interval = "100ms" } },
  sinks   = { sl.null {} },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ") },
}
