-- Kafka bench case (e): (b) with sl.quality measuring 100 feeds (10
-- departments of 10 feeds; the input topic's messages carry ce_source and
-- ce_type headers, as departments publish).  Its cost against (b) over the
-- same topic is the price of the metrics: issue 12 wants it within 10 %.
-- The step counts over hour, day and month windows and exports /metrics;
-- it emits no history rows (emit = false): writing them is PostgreSQL's
-- cost, benchmarked with the sinks (bench/pg_run).
local sl = require "sluice"
local function map(s)
  local t = {}
  for k, v in (s or ""):gmatch("([^=,]+)=([^,]+)") do t[k] = v end
  return t
end
local fields = { id = "int", name = "string", dept = "string", id_no = "string", phone = "string",
                 addr = "string", birth = "date", sex = "string", status = "string", updated = "int" }
local departments = {}
for d = 1, 10 do
  local feeds = {}
  for f = 1, 10 do
    feeds[f] = sl.feed { name = "f" .. f, key = "id", schedule = "every 15 min", fields = fields }
  end
  departments[d] = sl.department { id = "d" .. d, name = "Department " .. d, feeds = feeds }
end
local catalog = sl.catalog { departments = departments }
return sl.pipeline {
  name    = "bench-kafka-e",
  sources = { sl.kafka.source { brokers = sl.env("BENCH_BROKERS"), topics = { sl.env("BENCH_IN") },
                                group = sl.env("BENCH_GROUP"), librdkafka = map(sl.env("BENCH_SRC")) } },
  steps   = { sl.quality { catalog = catalog, emit = false } },
  sinks   = { sl.kafka.sink { brokers = sl.env("BENCH_BROKERS"), topic = sl.env("BENCH_OUT"),
                              librdkafka = map(sl.env("BENCH_SNK")) } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ"), format = "jsonl" },
}
