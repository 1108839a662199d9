-- The shipped Lua step plugin `mask`, by name (sl.mask): the middle of each
-- listed string field is masked, counting UTF-8 characters; a value too
-- short to keep both ends ("王" keeping 1 + 0) is masked whole; a number or
-- an absent field is left alone.  The second use gives `fields` as a string.
local sl = require "sluice"
return sl.pipeline {
  name    = "mask",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.mask { fields = { "id_no", "phone" } },
    sl.mask { fields = "name", keep_start = 1, keep_end = 0 },
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
