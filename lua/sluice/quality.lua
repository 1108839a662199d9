-- sluice.quality: the tables of the data-sharing performance history
-- (issue 12) and the pg.sink that writes sl.quality's rows into them.
--
--   local quality = require "sluice.quality"
--   steps = { ..., sl.quality { catalog = catalog, platform = dsn } },
--   sinks = { ..., quality.sink { conninfo = dsn } },
--
-- sl.quality emits rows with a field `_quality` ("delta", "score", "mark");
-- each kind has its table in the schema (default "quality"); the sink
-- routes each row by `_quality`, upserts it on the table's key and writes
-- the three tables in one transaction.  docs/metrics.md describes the
-- tables; the report (`sluice report`) and a restart of the step read them.
local sl = require "sluice"
local pgtables = require "sluice.pgtables"

local quality = {}

local function check_schema(schema, where)
  pgtables.check_schema(schema, where, "schema", 3)
end

local TABLES = {
  { kind = "delta", table = "feed_deltas",
    key = { "pipeline", "seq", "period", "period_start", "department", "feed" },
    columns = { "pipeline", "seq", "period", "period_start", "department", "feed", "counts", "keys" } },
  { kind = "score", table = "feed_scores", newer_by = "seq",
    key = { "pipeline", "period", "period_start", "department", "feed" },
    columns = { "pipeline", "period", "period_start", "label", "department", "feed", "closed", "records",
                "counts", "scores", "latency_p50_s", "latency_p95_s", "worst", "examples", "updated_at",
                "seq" } },
  { kind = "mark", table = "marks", newer_by = "offset",
    key = { "pipeline", "source", "partition" },
    columns = { "pipeline", "source", "partition", "offset" } },
}
quality.tables = TABLES

-- The schema's tables; idempotent, under an advisory lock (pipelines that
-- start together create it once).
function quality.ddl(schema)
  schema = schema or "quality"
  check_schema(schema, "quality.ddl")
  local sql = [[
set local client_min_messages = warning;
select pg_advisory_xact_lock(hashtext('sluice.quality.@'));
create schema if not exists @;
create table if not exists @.feed_deltas (
  pipeline text, seq bigint, period text, period_start timestamptz,
  department text, feed text,
  counts jsonb not null, keys jsonb,
  primary key (pipeline, seq, period, period_start, department, feed));
create table if not exists @.feed_scores (
  pipeline text, period text, period_start timestamptz, label text,
  department text, feed text,
  closed boolean not null, records bigint not null,
  counts jsonb not null, scores jsonb not null,
  latency_p50_s float8, latency_p95_s float8,
  worst jsonb, examples jsonb,
  updated_at timestamptz, seq bigint,
  primary key (pipeline, period, period_start, department, feed));
create index if not exists feed_scores_period on @.feed_scores (period, label);
create table if not exists @.marks (
  pipeline text, source text, partition int, "offset" bigint,
  primary key (pipeline, source, partition));
create table if not exists @.departments (
  department text primary key, name text not null, feeds jsonb not null);
]]
  return (sql:gsub("@", schema))
end

-- Whether a record is one of sl.quality's rows: other sinks take
-- `where = quality.not_quality`.
function quality.not_quality(r)
  return r._quality == nil
end

-- The pg.sink writing the history.
--   conninfo          libpq connection string (or sl.env(...))
--   schema            default "quality" (sl.quality's schema option)
--   create            (default true) the sink runs quality.ddl at start
--   transaction_rows, retry_max   passed on to the sink
function quality.sink(opts)
  pgtables.check_options(opts, { conninfo = true, schema = true, create = true, transaction_rows = true,
                                 retry_max = true, name = true }, "quality.sink", 2)
  local schema = opts.schema or "quality"
  check_schema(schema, "quality.sink")
  local tables = pgtables.entries(TABLES, schema, true)
  local s = {
    dsn = opts.conninfo,
    route = "_quality",
    tables = tables,
    where = function (r) return r._quality ~= nil end,
    others = "dlq",
    name = opts.name or ("quality-" .. schema),
    transaction_rows = opts.transaction_rows,
    retry_max = opts.retry_max,
  }
  if opts.create ~= false then s.setup_sql = quality.ddl(schema) end
  return sl.pg.sink(s)
end

return quality
