-- Kafka bench case (c): topic -> a Lua step that reads two fields and
-- writes one -> topic.  The changed record is encoded again from its fields.
local sl = require "sluice"
local function map(s)
  local t = {}
  for k, v in (s or ""):gmatch("([^=,]+)=([^,]+)") do t[k] = v end
  return t
end
return sl.pipeline {
  name    = "bench-kafka-c",
  sources = { sl.kafka.source { brokers = sl.env("BENCH_BROKERS"), topics = { sl.env("BENCH_IN") },
                                group = sl.env("BENCH_GROUP"), librdkafka = map(sl.env("BENCH_SRC")) } },
  steps   = {
    function (rec)
      rec.label = rec.dept .. ":" .. rec.name
      return rec
    end,
  },
  sinks   = { sl.kafka.sink { brokers = sl.env("BENCH_BROKERS"), topic = sl.env("BENCH_OUT"),
                              librdkafka = map(sl.env("BENCH_SNK")) } },
  dlq     = sl.file.sink { path = sl.env("BENCH_DLQ"), format = "jsonl" },
}
