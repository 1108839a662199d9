-- \u escapes of UTF-16 surrogates: a pair is one character and passes; a lone
-- high or low surrogate cannot become UTF-8, so that line goes to the
-- dead-letter sink with the byte of the escape named.
local sl = require "sluice"
return sl.pipeline {
  name    = "surrogates",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
