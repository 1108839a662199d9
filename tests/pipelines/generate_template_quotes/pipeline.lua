-- Quotes next to "${seq}" inside a template string are text like any other:
-- 'a"${seq}' renders as a"1, not as a broken JSON line.
local sl = require "sluice"
return sl.pipeline {
  name    = "generate-quotes",
  sources = { sl.generate { count = 2, template = { s = 'say "${seq}"', t = 'a"${seq}', u = '${seq}"' } } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
