-- residents-clean: the demo pipeline (scripts/demo runs it).
--
-- Reads resident records published by several departments as JSON Lines,
-- cleanses them (sl.clean), and writes three outputs:
--   residents.jsonl        every clean record, for the population base database
--   open-residents.csv     a masked extract that may be opened to the public
--   dlq.jsonl              records that could not be handled, with the reason
-- Input and output folders come from the environment, so the same file runs
-- anywhere:  SLUICE_DEMO_IN=in.jsonl SLUICE_DEMO_OUT=out/ sluice run residents-clean.lua
local sl = require "sluice"

local input  = sl.env("SLUICE_DEMO_IN", "residents.jsonl")
local outdir = sl.env("SLUICE_DEMO_OUT", ".")

return sl.pipeline {
  name = "residents-clean",
  sources = { sl.file.source { path = input, format = "jsonl" } },
  steps = {
    -- Cleansing by rules: names trimmed, full-width folded and converted to
    -- Simplified Chinese; ID numbers checked and repaired (lowercase x, 15
    -- digits); phones to E.164; dates to ISO 8601.  A record without a valid
    -- name or ID number goes to the dead-letter sink with every reason; an
    -- invalid phone is set to null.  Outcomes are counted per department,
    -- feed, field and rule (sluice_clean_outcomes_total on --admin).
    sl.clean {
      fields = {
        name  = { "trim", "nfkc", "t2s" },
        id_no = "cn_id",
        phone = { "cn_phone", on_invalid = "null" },
        birth = { "date", output = "date" },
        dept  = "trim",
      },
      required = { "name", "id_no" },
      on_invalid = "dlq",
    },
    -- Test records published by mistake are dropped (nil drops a record).
    function (rec)
      if rec.name:find("^TEST") then return nil end
      return rec
    end,
    -- Fan-out: the record goes on as it is, and a masked copy for open data
    -- goes with it (a step may return a list of records and tables).
    function (rec)
      local open = rec:totable()
      open.id_no = sl.clean.mask_id(rec.id_no)
      open.phone = nil
      open.audience = "public"
      return { rec, open }
    end,
  },
  sinks = {
    sl.file.sink {
      name = "residents",
      path = outdir .. "/residents.jsonl",
      where = function (rec) return rec.audience == nil end,
    },
    sl.file.sink {
      name = "open-data",
      path = outdir .. "/open-residents.csv",
      format = "csv",
      columns = { "id", "name", "id_no", "dept" },
      where = function (rec) return rec.audience == "public" end,
    },
  },
  dlq = sl.file.sink { path = outdir .. "/dlq.jsonl" },
}
