-- bench/platform_write: sl.match's entity records (JSON Lines) -> the
-- platform's entities table through platform.sinks, as a pipeline writes
-- them.  BENCH_IN, BENCH_DSN, BENCH_DOMAIN, BENCH_NAME and BENCH_DLQ come
-- from bench/platform_write.
local sl = require "sluice"
local platform = require "sluice.platform"
return sl.pipeline {
  name    = sl.env("BENCH_NAME"),
  batch_size = 4096,
  max_inflight_records = 65536,
  max_inflight_bytes = "128MiB",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), name = "in" } },
  sinks   = platform.sinks { conninfo = sl.env("BENCH_DSN"), domain = sl.env("BENCH_DOMAIN"),
                             only = { "entity" } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ") },
}
