-- Tests of population.lua, run by `sluice test pipelines/` (no Kafka nor
-- PostgreSQL needed: docs/testing-pipelines.md).  The platform sink gets
-- sl.match's rows (member, entity, event, ...), the quality sink
-- sl.quality's; dead letters are checked in every case.
local test = require "sluice.test"

local like = test.like

local zhang_gongan = {
  department = "公安", feed = "户籍登记", src_id = "1", name = " 張三 ", gender = "男", birth = "1990/3/7",
  id_no = "110101199003074477", phone = "138-0013-8000", addr = "北京市东城区", updated_at = "2026-04-30T10:00:00Z",
}
local zhang_minzheng = {
  department = "民政", feed = "婚姻登记", src_id = "m-9", name = "张三", gender = "男", birth = "1990-03-07",
  id_no = "110101199003074477", phone = "13900139000", addr = "北京市东城区东四", updated_at = "2026-04-30T11:00:00Z",
}

-- The rows of one kind the platform sink got, in order.
local function rows(out, kind)
  local list = {}
  for _, r in ipairs(out.output["platform-person"]) do
    if r._platform == kind then list[#list + 1] = r end
  end
  return list
end

-- The last member row of each record: where it stands at the end.
local function entity_of(out)
  local last = {}
  for _, m in ipairs(rows(out, "member")) do last[m.dept .. "/" .. m.feed .. "/" .. m.src_id] = m.entity_id end
  return last
end

return test.suite {
  now = "2026-05-01T00:00:00Z",
  cases = {
    {
      name = "a resident's record is cleansed and becomes a new entity",
      input = { residents = { zhang_gongan } },
      expect = {
        output = {
          ["platform-person"] = {
            like { _platform = "member", dept = "公安", feed = "户籍登记", src_id = "1", decision = "new",
                   entity_id = test.any,
                   vals = like { name = "张三", birth = "1990-03-07", id_no = "110101199003074477",
                                 phone = "+8613800138000" } },
            like { _platform = "event", kind = "created", member = "公安/户籍登记/1", version = 1 },
            like { _platform = "entity", status = "active", members = 1, version = 1,
                   golden = like { name = "张三", id_no = "110101199003074477", birth = "1990-03-07" } },
          },
        },
      },
    },
    {
      name = "two departments' records of one person are one entity",
      input = { residents = { zhang_gongan, zhang_minzheng } },
      check = function (out)
        local e = entity_of(out)
        assert(e["公安/户籍登记/1"] == e["民政/婚姻登记/m-9"], "the two records are in different entities")
        local entities = rows(out, "entity")
        local golden = entities[#entities].golden
        -- The name by priority (公安 first), the address the latest sent.
        assert(golden.name == "张三", "golden name: " .. tostring(golden.name))
        assert(golden.addr == "北京市东城区东四", "golden addr: " .. tostring(golden.addr))
        assert(entities[#entities].members == 2, "members: " .. tostring(entities[#entities].members))
      end,
    },
    {
      name = "a record without its source id is a dead letter",
      input = { residents = { { department = "民政", feed = "婚姻登记", name = "李四",
                                updated_at = "2026-04-30T11:00:00Z" } } },
      expect = {
        output = { ["platform-person"] = {} },
        dead = { { stage = "match.2", reason = "no record id",
                   record = like { name = "李四", department = "民政" } } },
      },
    },
    {
      name = "an operator's no_link decision keeps two records apart",
      input = {
        residents = { zhang_gongan, zhang_minzheng },
        reviews = { { a = "公安/户籍登记/1", b = "民政/婚姻登记/m-9", decision = "no_link", by = "tester" } },
      },
      check = function (out)
        local e = entity_of(out)
        assert(e["公安/户籍登记/1"] ~= e["民政/婚姻登记/m-9"], "linked despite the decision: " .. e["公安/户籍登记/1"])
        assert(#rows(out, "decision") == 1, "decision rows: " .. #rows(out, "decision"))
      end,
    },
    {
      name = "the matcher alone: the record goes on with its entity, and the platform's rows with it",
      at = "match.2",
      to = "match.2",
      input = { residents = { zhang_minzheng } },
      check = function (out)
        local got = out.output["match.2"]
        local kinds = {}
        for _, r in ipairs(got) do kinds[#kinds + 1] = r._platform or "record" end
        assert(table.concat(kinds, " ") == "record member event entity", "records out: " .. table.concat(kinds, " "))
        -- Not cleansed: the step before was left out.
        assert(got[1].phone == "13900139000", "phone: " .. tostring(got[1].phone))
      end,
    },
    {
      name = "POPULATION_TOPICS names the topics; the records go the same way",
      env = { POPULATION_TOPICS = "gaj.residents.v1, mzj.residents.v1" },
      input = { residents = { zhang_gongan } },
      check = function (out)
        assert(#rows(out, "member") == 1, "member rows: " .. #rows(out, "member"))
      end,
    },
    {
      name = "each feed's sharing performance is measured",
      input = { residents = { zhang_gongan, zhang_minzheng } },
      check = function (out)
        local scored = {}
        for _, q in ipairs(out.output["quality-quality"]) do
          if q._quality == "score" and q.closed and q.period == "month" then
            scored[q.department .. "/" .. q.feed] = q
          end
        end
        for _, feed in ipairs { "公安/户籍登记", "民政/婚姻登记" } do
          local q = scored[feed]
          assert(q, "no closed month score for " .. feed)
          assert(q.records == 1, feed .. ": records " .. tostring(q.records))
          assert(q.scores.completeness == 1, feed .. ": completeness " .. tostring(q.scores.completeness))
        end
      end,
    },
  },
}
