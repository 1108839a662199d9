-- require finds Lua modules in the pipeline's folder: helper.lua and
-- lib/names.lua (require "lib.names"), in the loop thread's state and in
-- every worker's.
local sl = require "sluice"
local helper = require "helper"
local names = require "lib.names"
return sl.pipeline {
  name    = "require",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      rec.double = helper.double(rec.n)
      rec.slug = names.slug(rec.name)
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
