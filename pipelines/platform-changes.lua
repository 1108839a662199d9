-- platform-changes: publishes a matching domain's changelog to Kafka, for
-- the systems downstream of the aggregation platform (every change to an
-- entity: created, updated, merged, split, member added or removed, with a
-- stable event id).
--
-- An outbox: population.lua (or legal-entities.lua) writes the changelog
-- table in the same transaction as the members and entities; this pipeline
-- follows that table by logical replication (pg.cdc), so an event is
-- published once its transaction is committed, and a crash of either
-- pipeline loses none.  Delivery to Kafka is at least once: a restart may
-- publish an event again, with the same event_id (consumers keep the
-- event ids they have applied, or upsert by it).  Messages are keyed by
-- entity_id, so one entity's events stay in order on one partition.
--
-- The publication <domain>_changes is created with the platform tables
-- (platform.ddl) when the role may; otherwise a DBA runs
--   CREATE PUBLICATION person_changes FOR TABLE person.changelog;
-- The role in CHANGES_DSN needs REPLICATION.
--
-- Settings (defaults in brackets):
--   CHANGES_DOMAIN   person | company | ... [person]
--   CHANGES_DSN      [host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice]
--   CHANGES_TOPIC    [<domain>.changes]
--   SLUICE_BROKERS   [127.0.0.1:19092]
--
--   CHANGES_DOMAIN=company build/sluice run pipelines/platform-changes.lua
local sl = require "sluice"

local domain  = sl.env("CHANGES_DOMAIN", "person")
local brokers = sl.env("SLUICE_BROKERS", "127.0.0.1:19092")

return sl.pipeline {
  name = domain .. "-changes",
  sources = {
    sl.pg.cdc { dsn = sl.env("CHANGES_DSN", "host=127.0.0.1 port=15432 dbname=sluice user=sluice password=sluice"),
                slot = domain .. "_changes", publication = domain .. "_changes", snapshot = true },
  },
  steps = {
    -- The changelog is insert-only: each insert (or snapshot row) is one
    -- event; the row is the message.
    function (rec)
      if (rec.op ~= "c" and rec.op ~= "r") or rec.after == nil then return nil end
      return rec.after
    end,
  },
  sinks = {
    sl.kafka.sink { brokers = brokers, topic = sl.env("CHANGES_TOPIC", domain .. ".changes"), key = "entity_id" },
  },
  dlq = sl.file.sink { path = sl.env("CHANGES_DLQ", domain .. "-changes.dlq.jsonl") },
}
