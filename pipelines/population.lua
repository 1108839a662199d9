-- population: the population base database (人口基础库) from the resident
-- feeds of several departments.  legal-entities.lua is its twin for
-- companies.
--
--   Kafka topics, one per department feed (public security 公安, civil
--   affairs 民政, human resources 人社, health 卫健, tax 税务 ...)
--     -> sl.clean   names, ID numbers, phones, dates, addresses normalised;
--                   a record without its identity goes to the dead letters
--     -> sl.match   linked into one entity per person (domain "person"),
--                   golden record with provenance, review items, operators'
--                   decisions from their own topic
--     -> platform   person.members, entities, changelog, reviews, decisions
--                   in PostgreSQL, written in one transaction per group of
--                   batches (lua/sluice/platform.lua)
--
-- The changelog goes on to Kafka from the changelog table, by
-- population-changes.lua (an outbox: an event is published only once its
-- transaction is committed, and never lost by a crash in between).
--
-- Run it against the project's services (scripts/kafka start, scripts/pg
-- start), from the repository's top folder:
--
--   build/sluice run pipelines/population.lua --admin 127.0.0.1:9108
--
-- Settings come from the environment (defaults in brackets):
--   SLUICE_BROKERS        Kafka bootstrap servers [127.0.0.1:19092]
--   POPULATION_TOPICS     the departments' resident topics, comma-separated; unset:
--                         every topic named <department>.residents.v<major>
--                         (docs/publishing.md), a new department's within minutes
--   POPULATION_DECISIONS  the topic of operators' review decisions [population.decisions]
--   POPULATION_GROUP      the consumer group [population]
--   PLATFORM_DSN          the aggregation platform's PostgreSQL
--                         [host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice]
--   POPULATION_DOMAIN     the schema and entity domain [person]
--   POPULATION_DLQ        the dead-letter topic [population.dlq]
--
-- A department's record is one JSON object per message, CloudEvents binary
-- mode (docs/publishing.md): src_id (its id in the feed), name, gender,
-- birth, id_no, phone, addr, updated_at; any other field rides along.  The
-- department and feed are the record's `department` and `feed` fields, or
-- else its ce_source and ce_type headers.  The model (models/person.json) was
-- trained with `sluice train`; pipelines/README.md says how to retrain it
-- on your own data.
local sl = require "sluice"
local platform = require "sluice.platform"
local quality = require "sluice.quality"
local catalog = require "catalog"

local brokers  = sl.env("SLUICE_BROKERS", "127.0.0.1:19092")
local dsn      = sl.env("PLATFORM_DSN", "host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice")
local domain   = sl.env("POPULATION_DOMAIN", "person")
local topics   = nil
for t in sl.env("POPULATION_TOPICS", ""):gmatch("[^,%s]+") do
  topics = topics or {}
  topics[#topics + 1] = t
end

return sl.pipeline {
  name = "population",
  sources = {
    sl.kafka.source { name = "residents", brokers = brokers, topics = topics,
                      pattern = not topics and "^[a-z0-9-]+\\.residents\\.v[0-9]+$" or nil,
                      group = sl.env("POPULATION_GROUP", "population") },
    sl.kafka.source { name = "reviews", brokers = brokers,
                      topics = { sl.env("POPULATION_DECISIONS", "population.decisions") },
                      group = sl.env("POPULATION_GROUP", "population") .. ".decisions" },
  },
  steps = {
    -- Cleansing by rules, before matching, so that golden records hold
    -- clean values: text folded (full-width, 繁體, stray spaces), 15-digit
    -- IDs widened to 18, phones to E.164, dates to ISO 8601.  An ID, phone
    -- or date that does not validate is kept as it came: the matcher still
    -- compares it (a wrong check character is one edit away), it just
    -- never links two records by itself.  A record without its identity
    -- goes to the dead letters from sl.match, with the reason.  The
    -- decisions' records have none of these fields and pass untouched.
    sl.clean {
      fields = {
        name  = { "trim", "nfkc", "t2s" },
        id_no = "cn_id",
        phone = "cn_phone",
        birth = { "date", output = "date" },
        addr  = { "trim", "nfkc", "t2s" },
      },
      on_invalid = "keep",
    },
    sl.match {
      domain    = domain,
      preset    = "person",
      identity  = { dept = "department", feed = "feed", id = "src_id" },
      time      = "updated_at",   -- the record's version (docs/publishing.md); else ce_time
      model     = "models/person.json",
      platform  = dsn,
      decisions = "reviews",
      -- The golden record: the department trusted most for a person's
      -- name, ID and birth (public security's household register first),
      -- the latest phone and address whoever sent them.
      priority  = { "公安", "民政", "人社", "卫健", "税务" },
      golden    = {
        name   = { "priority", "frequent" },
        id_no  = { "priority", "frequent" },
        birth  = { "priority", "frequent" },
        gender = { "priority", "frequent" },
        phone  = { "recent" },
        addr   = { "recent" },
      },
    },
    -- The departments' sharing performance (docs/metrics.md): each feed of
    -- the catalog measured over hour, day and month windows, after
    -- matching so that consistency with the golden records counts; the
    -- history in the quality schema, /scorecard on the admin endpoint.
    sl.quality { catalog = catalog, platform = dsn, domain = "person",
                 schema = sl.env("QUALITY_SCHEMA", "quality") },
  },
  sinks = { platform.sinks { conninfo = dsn, domain = domain }[1],
            quality.sink { conninfo = dsn, schema = sl.env("QUALITY_SCHEMA", "quality") } },
  dlq = sl.kafka.sink { brokers = brokers, topic = sl.env("POPULATION_DLQ", "population.dlq") },
}
