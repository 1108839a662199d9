-- Tests of department-table.lua, run by `sluice test pipelines/` (no
-- PostgreSQL nor Kafka needed: docs/testing-pipelines.md).
local test = require "sluice.test"

local row = { seq = 41, department = "住建", feed = "资质许可", src_id = "zz-001", name = "福州某某建设有限公司",
              uscc = "91350100M000100Y43", updated_at = "2026-04-30T08:00:00Z" }

return test.suite {
  cases = {
    {
      name = "a table row is published without its seq column",
      input = { row },
      expect = {
        output = {
          ["kafka.sink.1"] = { { department = "住建", feed = "资质许可", src_id = "zz-001", name = "福州某某建设有限公司",
                                 uscc = "91350100M000100Y43", updated_at = "2026-04-30T08:00:00Z" } },
        },
      },
    },
    {
      name = "the message is keyed by its record id, with CloudEvents headers",
      input = { row },
      check = function (out)
        local a = out.attrs["kafka.sink.1"][1]
        assert(a.key == "zz-001", "key: " .. tostring(a.key))
        local h = a.headers
        assert(h.ce_specversion == "1.0", "ce_specversion: " .. tostring(h.ce_specversion))
        assert(h.ce_source == "住建", "ce_source: " .. tostring(h.ce_source))
        assert(h.ce_type == "资质许可.v1", "ce_type: " .. tostring(h.ce_type))
        assert(h.ce_id == "住建/zz-001", "ce_id: " .. tostring(h.ce_id))
        assert(h.ce_time == "2026-04-30T08:00:00Z", "ce_time: " .. tostring(h.ce_time))
      end,
    },
    {
      name = "a row whose header cannot be made is a dead letter",
      -- Without feed, ce_type's function fails on nil .. ".v1".
      input = { { seq = 42, department = "住建", src_id = "zz-002" } },
      expect = {
        output = { ["kafka.sink.1"] = {} },
        dead = { { reason = "feed" } },
      },
    },
  },
}
