-- sluice check: platform.sinks makes one checkable pg.sink writing five tables
-- (upsert keys, newer_by = "version" among the columns, setup_sql); `only`
-- picks some; platform.not_platform is a `where` for the other sinks.
local sl = require "sluice"
local platform = require "sluice.platform"
local sinks = platform.sinks { conninfo = "host=127.0.0.1 port=1", domain = "person" }
for _, s in ipairs(platform.sinks { conninfo = "host=127.0.0.1 port=1", domain = "company",
                                    only = { "entity", "event" }, exactly_once = false,
                                    create = false }) do
  sinks[#sinks + 1] = s
end
sinks[#sinks + 1] = sl.file.sink { path = "linked.jsonl", where = platform.not_platform }
assert(platform.ddl("person"):find("create table if not exists person.members", 1, true))
assert(platform.ddl("person"):find("create table if not exists person.decisions", 1, true))
return sl.pipeline {
  name = "platform",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = sinks,
}
