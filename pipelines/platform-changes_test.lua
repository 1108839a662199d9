-- Tests of platform-changes.lua, run by `sluice test pipelines/` (no
-- PostgreSQL nor Kafka needed: docs/testing-pipelines.md).  The input
-- records are what pg.cdc gives: { op = "c" | "r" | "u" | "d", after = row }.
local test = require "sluice.test"

local event = { event_id = "7703ec6d1a18b186", kind = "created", entity_id = "P376d5487f92bb83e",
                member = "公安/户籍登记/1", version = 1, at = "2026-04-30T10:00:00.000Z" }

return test.suite {
  cases = {
    {
      name = "an inserted changelog row is published as it is, keyed by entity",
      input = { { op = "c", after = event } },
      expect = { output = { ["kafka.sink.1"] = { event } } },
      check = function (out)
        assert(out.attrs["kafka.sink.1"][1].key == "P376d5487f92bb83e", "not keyed by entity_id")
      end,
    },
    {
      name = "snapshot rows are published, updates and deletes are not",
      input = { { op = "r", after = event }, { op = "u", after = event }, { op = "d" }, { op = "c" } },
      expect = { output = { ["kafka.sink.1"] = { event } }, dropped = 3 },
    },
    {
      name = "the domain comes from CHANGES_DOMAIN",
      env = { CHANGES_DOMAIN = "company" },
      input = { { op = "c", after = { event_id = "e2", kind = "created", entity_id = "C1" } } },
      expect = { output = { ["kafka.sink.1"] = { { event_id = "e2", kind = "created", entity_id = "C1" } } } },
      check = function (out)
        local topic = out.attrs["kafka.sink.1"][1].topic
        assert(topic == "company.changes", "topic: " .. tostring(topic))
      end,
    },
  },
}
