-- Kafka bench case (d): topic -> topic, no step, exactly_once = true: the
-- sink's transactions commit the source's offsets with the records.  The
-- same pipeline as (b) otherwise, so (d)/(b) is the price of exactly-once.
local sl = require "sluice"
local function map(s)   -- "k=v,k=v" from the environment -> librdkafka table
  local t = {}
  for k, v in (s or ""):gmatch("([^=,]+)=([^,]+)") do t[k] = v end
  return t
end
return sl.pipeline {
  name    = "bench-kafka-d",
  exactly_once = true,
  sources = { sl.kafka.source { brokers = sl.env("BENCH_BROKERS"), topics = { sl.env("BENCH_IN") },
                                group = sl.env("BENCH_GROUP"), librdkafka = map(sl.env("BENCH_SRC")) } },
  sinks   = { sl.kafka.sink { brokers = sl.env("BENCH_BROKERS"), topic = sl.env("BENCH_OUT"),
                              librdkafka = map(sl.env("BENCH_SNK")) } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ"), format = "jsonl" },
}
