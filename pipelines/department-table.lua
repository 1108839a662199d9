-- department-table: a department that keeps a feed in its own PostgreSQL
-- table rather than publishing to Kafka.  The platform polls the table for
-- new rows (pg.source, by a column that only grows) and publishes each as
-- the department would have (docs/publishing.md): onto the feed's topic,
-- keyed by its record id, with CloudEvents headers.  The departments'
-- pipelines then read it like any other feed.  scripts/demo runs it for
-- 住建 (housing), whose 资质许可 feed is a table.
--
--   DEPT_TABLE_DSN    the department's database [the platform's]
--   DEPT_TABLE        its table [dept_zhujian.licences]
--   DEPT_TABLE_TOPIC  the feed's topic [zjj.companies.v1]
--   DEPT_TABLE_DLQ    the department's dead-letter topic [dlq.zjj]
--   SLUICE_BROKERS    Kafka [127.0.0.1:19092]
--
-- The table has a growing column `seq` (bigserial) and the feed's fields;
-- `department` and `feed` columns name the record's department and feed.
local sl = require "sluice"

local brokers = sl.env("SLUICE_BROKERS", "127.0.0.1:19092")
local dsn = sl.env("DEPT_TABLE_DSN", sl.env("PLATFORM_DSN",
                   "host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice"))

return sl.pipeline {
  name = "department-table",
  sources = { sl.pg.source { dsn = dsn, table = sl.env("DEPT_TABLE", "dept_zhujian.licences"),
                             watermark = "seq", every = "1s" } },
  steps = {
    -- The table's growing column is its own business, not the feed's.
    function (rec)
      rec.seq = nil
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = brokers, topic = sl.env("DEPT_TABLE_TOPIC", "zjj.companies.v1"),
                            key = "src_id",
                            headers = { ce_specversion = "1.0",
                                        ce_source = function (r) return r.department end,
                                        ce_type = function (r) return r.feed .. ".v1" end,
                                        ce_id = function (r) return r.department .. "/" .. r.src_id end,
                                        ce_time = function (r) return r.updated_at end } } },
  -- What cannot be published goes where the department reads its dead
  -- letters (docs/publishing.md).
  dlq = sl.kafka.sink { brokers = brokers, topic = sl.env("DEPT_TABLE_DLQ", "dlq.zjj") },
}
