-- legal-entities: the legal-entity base database (法人基础库) from the
-- company feeds of several departments: registrations and annual reports
-- (market regulation 市场监管), tax registrations (税务), social insurance
-- (人社), the statistics directory (统计), licences (住建) ...
--
--   Kafka topics, one per department feed
--     -> sl.clean   company names folded (full-width, 繁體, spaces), unified
--                   social credit codes repaired and checked, phones,
--                   dates; a record without its identity is a dead letter
--     -> sl.match   one entity per company (domain "company"): a valid
--                   credit code links directly, two different valid codes
--                   never link; otherwise names (legal forms and division
--                   prefixes aside), legal representative, phone, address
--     -> platform   company.members, entities, changelog, reviews,
--                   decisions in PostgreSQL, one transaction per group of
--                   batches (lua/sluice/platform.lua)
--
-- legal-entities-changes.lua publishes the changelog to Kafka (an outbox).
-- Settings come from the environment (defaults in brackets):
--   SLUICE_BROKERS          Kafka bootstrap servers [127.0.0.1:19092]
--   LEGAL_ENTITY_TOPICS     the departments' company topics, comma-separated; unset:
--                           every topic named <department>.companies.v<major>
--   LEGAL_ENTITY_DECISIONS  operators' review decisions [legal-entities.decisions]
--   LEGAL_ENTITY_GROUP      the consumer group [legal-entities]
--   PLATFORM_DSN            the aggregation platform's PostgreSQL
--                           [host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice]
--   LEGAL_ENTITY_DOMAIN     the schema and entity domain [company]
--   LEGAL_ENTITY_DLQ        the dead-letter topic [legal-entities.dlq]
--
-- A record: src_id, name, uscc, legal_rep, phone, addr, est_date,
-- updated_at; department and feed as fields or as ce_source and ce_type
-- (docs/publishing.md).  The model is models/company.json
-- (pipelines/README.md: retraining it).
local sl = require "sluice"
local platform = require "sluice.platform"
local quality = require "sluice.quality"
local catalog = require "catalog"

local brokers = sl.env("SLUICE_BROKERS", "127.0.0.1:19092")
local dsn     = sl.env("PLATFORM_DSN", "host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice")
local domain  = sl.env("LEGAL_ENTITY_DOMAIN", "company")
local group   = sl.env("LEGAL_ENTITY_GROUP", "legal-entities")
local topics  = nil
for t in sl.env("LEGAL_ENTITY_TOPICS", ""):gmatch("[^,%s]+") do
  topics = topics or {}
  topics[#topics + 1] = t
end

return sl.pipeline {
  name = "legal-entities",
  sources = {
    sl.kafka.source { name = "companies", brokers = brokers, topics = topics, group = group,
                      pattern = not topics and "^[a-z0-9-]+\\.companies\\.v[0-9]+$" or nil },
    sl.kafka.source { name = "reviews", brokers = brokers, group = group .. ".decisions",
                      topics = { sl.env("LEGAL_ENTITY_DECISIONS", "legal-entities.decisions") } },
  },
  steps = {
    -- Clean values for the golden record; a code, phone or date that does
    -- not validate is kept as it came, for the matcher to compare.
    sl.clean {
      fields = {
        name      = { "trim", "nfkc", "t2s" },
        uscc      = "uscc",
        legal_rep = { "trim", "nfkc", "t2s" },
        phone     = "cn_phone",
        est_date  = { "date", output = "date" },
        addr      = { "trim", "nfkc", "t2s" },
      },
      on_invalid = "keep",
    },
    sl.match {
      domain    = domain,
      preset    = "company",
      identity  = { dept = "department", feed = "feed", id = "src_id" },
      time      = "updated_at",   -- the record's version (docs/publishing.md); else ce_time
      model     = "models/company.json",
      platform  = dsn,
      decisions = "reviews",
      -- Market regulation registers companies: its name, code and legal
      -- representative come first; the latest phone and address win.
      priority  = { "市场监管", "税务", "人社", "统计", "住建" },
      golden    = {
        name      = { "priority", "frequent" },
        uscc      = { "priority", "frequent" },
        legal_rep = { "priority", "recent" },
        est_date  = { "priority", "frequent" },
        phone     = { "recent" },
        addr      = { "recent" },
      },
    },
    -- The departments' sharing performance (docs/metrics.md): each feed of
    -- the catalog measured over hour, day and month windows, after
    -- matching so that consistency with the golden records counts; the
    -- history in the quality schema, /scorecard on the admin endpoint.
    sl.quality { catalog = catalog, platform = dsn, domain = "company",
                 schema = sl.env("QUALITY_SCHEMA", "quality") },
  },
  sinks = { platform.sinks { conninfo = dsn, domain = domain }[1],
            quality.sink { conninfo = dsn, schema = sl.env("QUALITY_SCHEMA", "quality") } },
  dlq = sl.kafka.sink { brokers = brokers, topic = sl.env("LEGAL_ENTITY_DLQ", "legal-entities.dlq") },
}
