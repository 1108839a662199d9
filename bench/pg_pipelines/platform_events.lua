-- bench/platform_write: sl.match's entity records (JSON Lines) -> the
-- platform's entities AND changelog tables through platform.sinks, each
-- entity record with a changelog row (as sl.match emits them): two tables,
-- in one transaction since platform.sinks is one pg.sink (five before).
-- BENCH_IN, BENCH_DSN, BENCH_DOMAIN, BENCH_NAME and BENCH_DLQ come from
-- bench/platform_write.
local sl = require "sluice"
local platform = require "sluice.platform"
return sl.pipeline {
  name    = sl.env("BENCH_NAME"),
  batch_size = 4096,
  max_inflight_records = 65536,
  max_inflight_bytes = "128MiB",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), name = "in" } },
  steps   = {
    function (r)
      return { r, { _platform = "event", domain = r.domain,
                    event_id = r.entity_id .. ":" .. r.version, kind = "updated",
                    entity_id = r.entity_id, version = r.version, at = r.updated_at } }
    end,
  },
  sinks   = platform.sinks { conninfo = sl.env("BENCH_DSN"), domain = sl.env("BENCH_DOMAIN"),
                             only = { "entity", "event" } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ") },
}
