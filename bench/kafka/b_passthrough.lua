-- Kafka bench case (b): topic -> topic, no step.  Every record is decoded
-- (validated) by a worker and leaves as its original bytes.  Case (d) is the
-- same with BENCH_EOS=1: exactly_once = true, so (d)/(b) is its price.
local sl = require "sluice"
local function map(s)   -- "k=v,k=v" from the environment -> librdkafka table
  local t = {}
  for k, v in (s or ""):gmatch("([^=,]+)=([^,]+)") do t[k] = v end
  return t
end
return sl.pipeline {
  name    = "bench-kafka-b",
  exactly_once = sl.env("BENCH_EOS") == "1",
  sources = { sl.kafka.source { brokers = sl.env("BENCH_BROKERS"), topics = { sl.env("BENCH_IN") },
                                group = sl.env("BENCH_GROUP"), librdkafka = map(sl.env("BENCH_SRC")) } },
  sinks   = { sl.kafka.sink { brokers = sl.env("BENCH_BROKERS"), topic = sl.env("BENCH_OUT"),
                              librdkafka = map(sl.env("BENCH_SNK")) } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ"), format = "jsonl" },
}
