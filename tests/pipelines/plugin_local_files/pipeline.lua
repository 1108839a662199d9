-- Lua plugins found next to the pipeline file: plugins/tag.lua (a step with
-- a required option and a default), stamp.lua in the pipeline's own folder,
-- and plugins/mask.lua, which takes precedence over the shipped `mask`.
local sl = require "sluice"
return sl.pipeline {
  name    = "local-plugins",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.tag { value = "checked" },
    sl.plugin "stamp" { },
    sl.mask { fields = { "name" } },
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
