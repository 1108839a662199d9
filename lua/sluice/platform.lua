-- sluice.platform: the aggregation platform's tables for one matching
-- domain (issue 11), and the pg.sink that writes sl.match's output into them.
--
--   local platform = require "sluice.platform"
--   sinks = platform.sinks { conninfo = sl.env("PLATFORM_DSN"), domain = "person" }
--
-- sl.match annotates every input record and emits extra records with a field
-- `_platform` ("member", "entity", "event", "review", "decision") and a
-- field `domain`.
-- Each kind has its table in the schema named after the domain; one
-- pg.sink writes the five, routing each record by its `_platform` (pg.sink's
-- tables and route), upserting on each table's primary key and writing only
-- the table's columns (so `_platform` and `domain` are dropped), all five in
-- one transaction with the sources' positions.  The sink creates the schema
-- when the pipeline starts (pg.sink's setup_sql): platform.ddl(domain) is
-- idempotent.
--
-- The tables, the two queries and the columns are documented in
-- docs/matching.md ("The platform tables").
local sl = require "sluice"
local pgtables = require "sluice.pgtables"

local platform = {}

-- A domain names a schema, the entity id prefix and a table prefix in
-- function names: a plain lower-case SQL identifier, so that it never needs
-- quoting (and nothing from a pipeline is spliced into SQL unchecked).
local function check_domain(domain, where)
  pgtables.check_schema(domain, where, "domain", 3)
end

-- The columns each table takes from its records, in the tables' order.
-- reviews.decision and reviews.decided_at are the operators': never written
-- by the sink, so an upsert of the same review keeps a decision taken.
local TABLES = {
  { kind = "member", table = "members", key = { "dept", "feed", "src_id" }, newer_by = "seq",
    columns = { "dept", "feed", "src_id", "entity_id", "decision", "probability", "vals", "updated_at",
                "seq" } },
  { kind = "entity", table = "entities", key = { "entity_id" }, newer_by = "version",
    columns = { "entity_id", "status", "merged_into", "golden", "provenance", "members", "version",
                "updated_at" } },
  { kind = "event", table = "changelog", key = { "event_id" },
    columns = { "event_id", "kind", "entity_id", "other_entity", "member", "version", "at" } },
  { kind = "review", table = "reviews", key = { "review_id" },
    columns = { "review_id", "a", "b", "probability", "explanation", "record_a", "record_b" } },
  { kind = "decision", table = "decisions", key = { "decision_id" }, newer_by = "seq",
    columns = { "decision_id", "a", "b", "decision", "review_id", "by", "at", "seq" } },
}
platform.tables = TABLES

-- The schema of a domain: tables, indexes and the two queries as functions.
-- Every statement is "if not exists" or "or replace", and the whole runs
-- under a transaction-scoped advisory lock, so pipelines starting at the
-- same time (several of one domain) create it once.  Names are
-- schema-qualified: sluice's sessions run with search_path = ''.
function platform.ddl(domain)
  check_domain(domain, "platform.ddl")
  local sql = [[
set local client_min_messages = warning;
select pg_advisory_xact_lock(hashtext('sluice.platform.@'));
create schema if not exists @;
create table if not exists @.members (
  dept text, feed text, src_id text,
  entity_id text not null,
  decision text, probability float8,
  vals jsonb not null,
  updated_at timestamptz,
  seq bigint,
  primary key (dept, feed, src_id));
alter table @.members add column if not exists seq bigint;
create index if not exists members_entity_id on @.members (entity_id);
create table if not exists @.entities (
  entity_id text primary key,
  status text not null,
  merged_into text,
  golden jsonb not null,
  provenance jsonb not null,
  members int not null,
  version bigint not null,
  updated_at timestamptz);
create index if not exists entities_merged_into on @.entities (merged_into) where merged_into is not null;
create table if not exists @.changelog (
  event_id text primary key,
  kind text not null,
  entity_id text not null,
  other_entity text, member text, version bigint, at timestamptz);
create index if not exists changelog_entity_id on @.changelog (entity_id, version);
create table if not exists @.reviews (
  review_id text primary key,
  a text not null, b text not null,
  probability float8,
  explanation jsonb, record_a jsonb, record_b jsonb,
  decision text, decided_at timestamptz);
-- Operators' decisions that held (sl.match's decisions option), read back
-- by a restore: a later decision on a pair replaces its row.
create table if not exists @.decisions (
  decision_id text primary key,
  a text not null, b text,
  decision text not null,
  review_id text, by text, at timestamptz,
  seq bigint);

-- The publication pipelines/platform-changes.lua follows (pg.cdc): the
-- changelog, an outbox written in the same transactions as the entities.
-- A role that may not create it leaves it to a DBA.
do $pub$ begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = '@_changes') then
    create publication @_changes for table @.changelog;
  end if;
exception when insufficient_privilege then
  raise notice 'sluice.platform: not allowed to create publication @_changes; a DBA can: '
               'CREATE PUBLICATION @_changes FOR TABLE @.changelog';
end $pub$;

-- The entity an entity id stands for now: itself, or the entity it was
-- merged into, followed to the end (a chain longer than 64 is cut).
create or replace function @.survivor(entity_id text) returns text
language sql stable as $fn$
  with recursive chain(entity_id, merged_into, depth) as (
    select e.entity_id, e.merged_into, 0 from @.entities e where e.entity_id = survivor.entity_id
    union all
    select e.entity_id, e.merged_into, c.depth + 1
    from chain c join @.entities e on e.entity_id = c.merged_into
    where c.depth < 64)
  select coalesce((select c.entity_id from chain c order by c.depth desc limit 1),
                  survivor.entity_id)
$fn$;

-- Query 1: which entity is this department's record, and what is its golden
-- record.  entity_id is the surviving entity; member_entity_id what the
-- member row holds (differs while a merge has not reached it).  No row: the
-- record is not a member; NULL golden: its entity's row is not written yet.
create or replace function @.entity_of(dept text, feed text, src_id text)
returns table (decision text, probability float8, member_entity_id text, entity_id text,
               status text, golden jsonb, provenance jsonb, members int, version bigint,
               updated_at timestamptz)
language sql stable as $fn$
  select m.decision, m.probability, m.entity_id,
         s.id, e.status, e.golden, e.provenance, e.members, e.version, e.updated_at
  from @.members m
  cross join lateral (select @.survivor(m.entity_id) as id) s
  left join @.entities e on e.entity_id = s.id
  where m.dept = entity_of.dept and m.feed = entity_of.feed and m.src_id = entity_of.src_id
$fn$;

-- Query 2: which records and departments make up this entity: the members
-- of its survivor and of every entity merged into that, transitively.
create or replace function @.members_of(entity_id text)
returns table (dept text, feed text, src_id text, member_entity_id text, decision text,
               probability float8, vals jsonb, updated_at timestamptz)
language sql stable as $fn$
  with recursive tree(entity_id, depth) as (
    select @.survivor(members_of.entity_id), 0
    union all
    select e.entity_id, t.depth + 1
    from tree t join @.entities e on e.merged_into = t.entity_id
    where t.depth < 64)
  select m.dept, m.feed, m.src_id, m.entity_id, m.decision, m.probability, m.vals, m.updated_at
  from @.members m
  where m.entity_id in (select t.entity_id from tree t)
  order by m.dept, m.feed, m.src_id
$fn$;

-- The departments of an entity, with how many of their records it holds.
create or replace view @.entity_departments as
  select e.entity_id, m.dept, count(*)::int as records
  from @.entities e cross join lateral @.members_of(e.entity_id) m
  where e.status = 'active'
  group by e.entity_id, m.dept;
]]
  return (sql:gsub("@", domain))
end

-- Whether a record is one of sl.match's platform records: other sinks of
-- the pipeline take `where = platform.not_platform`.
function platform.not_platform(r)
  return r._platform == nil
end

-- The pg.sink writing the five tables of a domain, as a list of one (so
-- that `sinks = platform.sinks { ... }` is a pipeline's sinks).  One sink,
-- one transaction per group of batches: the five tables and the sources'
-- positions commit together, so after a kill -9 the tables reflect exactly
-- the records up to one position, the one the sources resume from when the
-- sink is the pipeline's only one (docs/internals/match-platform.md).
--   conninfo      libpq connection string (or sl.env(...))
--   domain        the sl.match step's domain ("person", "company", ...)
--   exactly_once  (default true) replays change nothing: entities are
--                 written only when their version grows (newer_by), every
--                 table is an upsert on its primary key
--   create        (default true) the sink runs platform.ddl at start
--   transaction_rows, retry_max   passed on to the sink
--   only          a list of kinds ("member", "entity", "event", "review",
--                 "decision") to write, default all five
function platform.sinks(opts)
  pgtables.check_options(opts, { conninfo = true, domain = true, exactly_once = true, create = true,
                                 transaction_rows = true, retry_max = true, only = true },
                         "platform.sinks", 2)
  local domain = opts.domain
  check_domain(domain, "platform.sinks")
  local exactly_once = opts.exactly_once ~= false
  local create = opts.create ~= false
  local only
  if opts.only then
    only = {}
    for _, kind in ipairs(type(opts.only) == "string" and { opts.only } or opts.only) do
      local ok = false
      for _, t in ipairs(TABLES) do ok = ok or t.kind == kind end
      if not ok then error("platform.sinks: only: unknown kind '" .. tostring(kind) .. "'", 2) end
      only[kind] = true
    end
  end
  local tables, kinds = pgtables.entries(TABLES, domain, exactly_once, only), {}
  for _, t in ipairs(tables) do kinds[t.route] = true end
  if #tables == 0 then error("platform.sinks: only: no kind to write", 2) end
  local s = {
    dsn = opts.conninfo,
    route = "_platform",
    tables = tables,
    -- Only the domain's platform records of the kinds written reach the
    -- sink: the annotated records (no _platform) and other domains' records
    -- are not its.
    where = function (r) return kinds[r._platform] == true and r.domain == domain end,
    others = "dlq",
    name = "platform-" .. domain,
    transaction_rows = opts.transaction_rows,
    retry_max = opts.retry_max,
  }
  if create then s.setup_sql = platform.ddl(domain) end
  return { sl.pg.sink(s) }
end

return platform
