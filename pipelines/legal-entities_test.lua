-- Tests of legal-entities.lua, run by `sluice test pipelines/` (no Kafka nor
-- PostgreSQL needed: docs/testing-pipelines.md).
local test = require "sluice.test"

local like = test.like

local registered = {
  department = "市场监管", feed = "企业登记", src_id = "r-1", name = "  福州某某科技有限公司 ",
  uscc = "91350100m000100y43", legal_rep = "王五", phone = "0591-87654321", est_date = "2015年3月2日",
  addr = "福建省福州市鼓楼区", updated_at = "2026-04-30T09:00:00Z",
}
local taxpayer = {
  department = "税务", feed = "税务登记", src_id = "t-77", name = "福州某某科技有限公司",
  uscc = "91350100M000100Y43", legal_rep = "王五", phone = "0591-88888888", est_date = "2015-03-02",
  addr = "福建省福州市鼓楼区五四路1号", updated_at = "2026-04-30T12:00:00Z",
}

local function rows(out, kind)
  local list = {}
  for _, r in ipairs(out.output["platform-company"]) do
    if r._platform == kind then list[#list + 1] = r end
  end
  return list
end

return test.suite {
  now = "2026-05-01T00:00:00Z",
  cases = {
    {
      name = "a registration is cleansed and becomes a new company",
      input = { companies = { registered } },
      expect = {
        output = {
          ["platform-company"] = {
            like { _platform = "member", dept = "市场监管", feed = "企业登记", src_id = "r-1", decision = "new",
                   vals = like { name = "福州某某科技有限公司", uscc = "91350100M000100Y43", est_date = "2015-03-02" } },
            like { _platform = "event", kind = "created", member = "市场监管/企业登记/r-1" },
            like { _platform = "entity", status = "active", members = 1,
                   golden = like { uscc = "91350100M000100Y43", legal_rep = "王五" } },
          },
        },
      },
    },
    {
      name = "the tax registration of the same credit code joins the company",
      input = { companies = { registered, taxpayer } },
      check = function (out)
        local members = rows(out, "member")
        assert(#members == 2, "member rows: " .. #members)
        assert(members[1].entity_id == members[2].entity_id, "two entities for one credit code")
        local entities = rows(out, "entity")
        local last = entities[#entities]
        assert(last.members == 2, "members: " .. tostring(last.members))
        -- The latest address wins, whoever sent it.
        assert(last.golden.addr == "福建省福州市鼓楼区五四路1号", "golden addr: " .. tostring(last.golden.addr))
      end,
    },
    {
      name = "LEGAL_ENTITY_TOPICS names the topics; the records go the same way",
      env = { LEGAL_ENTITY_TOPICS = "scjgj.companies.v1,swj.companies.v1" },
      input = { companies = { registered } },
      check = function (out)
        assert(#rows(out, "member") == 1, "member rows: " .. #rows(out, "member"))
      end,
    },
    {
      name = "a record without its source id is a dead letter",
      input = { companies = { { department = "统计", feed = "名录库", name = "某某商行" } } },
      expect = {
        output = { ["platform-company"] = {} },
        dead = { { stage = "match.2", reason = "no record id" } },
      },
    },
  },
}
