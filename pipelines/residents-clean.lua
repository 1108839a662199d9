-- residents-clean: the demo pipeline (scripts/demo runs it).
--
-- Reads resident records published by several departments as JSON Lines,
-- tidies them, and writes three outputs:
--   residents.jsonl        every clean record, for the population base database
--   open-residents.csv     a masked extract that may be opened to the public
--   dlq.jsonl              records that could not be handled, with the reason
-- Input and output folders come from the environment, so the same file runs
-- anywhere:  SLUICE_DEMO_IN=in.jsonl SLUICE_DEMO_OUT=out/ sluice run residents-clean.lua
local sl = require "sluice"

local input  = sl.env("SLUICE_DEMO_IN", "residents.jsonl")
local outdir = sl.env("SLUICE_DEMO_OUT", ".")

-- Trims ASCII and ideographic (U+3000) spaces and collapses inner runs.
local function tidy(s)
  s = s:gsub("\u{3000}", " "):gsub("%s+", " ")
  return (s:gsub("^ ", ""):gsub(" $", ""))
end

-- "440402199001011234" -> "440402********1234"
local function mask_id(s)
  if #s <= 10 then return string.rep("*", #s) end
  return s:sub(1, 6) .. string.rep("*", #s - 10) .. s:sub(-4)
end

return sl.pipeline {
  name = "residents-clean",
  sources = { sl.file.source { path = input, format = "jsonl" } },
  steps = {
    -- Records without a name or an ID number cannot be matched later: reject
    -- them with a reason (an error sends the record to the dead-letter sink).
    function (rec)
      if type(rec.name) ~= "string" or rec.name == "" then error("missing name", 0) end
      if type(rec.id_no) ~= "string" then error("missing id_no", 0) end
      rec.name = tidy(rec.name)
      rec.id_no = rec.id_no:upper()          -- a lowercase check character x
      if rec.dept then rec.dept = tidy(rec.dept) end
      return rec
    end,
    -- Test records published by mistake are dropped (nil drops a record).
    function (rec)
      if rec.name:find("^TEST") then return nil end
      return rec
    end,
    -- Fan-out: the record goes on as it is, and a masked copy for open data
    -- goes with it (a step may return a list of records and tables).
    function (rec)
      local open = rec:totable()
      open.id_no = mask_id(rec.id_no)
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
