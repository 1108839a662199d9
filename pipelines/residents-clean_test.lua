-- Tests of residents-clean.lua, run by `sluice test pipelines/`
-- (docs/testing-pipelines.md).  The file sinks are replaced by in-memory
-- ones: they get records, before the CSV sink's columns are applied.
local test = require "sluice.test"

return test.suite {
  cases = {
    {
      name = "a record is cleansed, and a masked copy goes to open data",
      input = { { id = 1, name = " 張三 ", id_no = "11010119900307109x", phone = "13800138000",
                  birth = "1990年3月7日", dept = " 公安 " } },
      expect = {
        output = {
          residents = { { id = 1, name = "张三", id_no = "11010119900307109X", phone = "+8613800138000",
                          birth = "1990-03-07", dept = "公安" } },
          ["open-data"] = { { id = 1, name = "张三", id_no = "110101********109X", birth = "1990-03-07",
                              dept = "公安", audience = "public" } },
        },
      },
    },
    {
      name = "an invalid phone is set to null, the record goes on",
      input = { { id = 2, name = "李四", id_no = "110101199003074477", phone = "12345" } },
      check = function (out)
        local r = out.output.residents[1]
        assert(r.phone == require("sluice").json.null, "phone: " .. tostring(r.phone))
      end,
    },
    {
      name = "a record without a valid ID number is a dead letter with the reason",
      input = { { id = 3, name = "王五", id_no = "110101199003074478" } },
      expect = {
        output = { residents = {}, ["open-data"] = {} },
        dead = { { stage = "clean.1", reason = "id_no", record = test.like { name = "王五" } } },
      },
    },
    {
      name = "test records are dropped",
      input = { { id = 4, name = "TEST 用户", id_no = "110101199003074477" } },
      expect = { output = { residents = {}, ["open-data"] = {} }, dropped = 1 },
    },
    {
      name = "the cleansing step alone",
      to = "clean.1",
      input = { { id = 6, name = "  趙六 ", id_no = "110101199003074477", phone = "+86 138 0013 8000" } },
      expect = {
        output = { ["clean.1"] = { { id = 6, name = "赵六", id_no = "110101199003074477", phone = "+8613800138000" } } },
      },
    },
    {
      name = "records fed in after cleansing are only filtered and fanned out",
      at = "step.2",
      input = { { id = 5, name = " 不清洗 ", id_no = "110101199003074477" } },
      expect = {
        output = { residents = { { id = 5, name = " 不清洗 ", id_no = "110101199003074477" } } },
      },
    },
  },
}
