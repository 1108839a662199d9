-- Bytes that are not UTF-8 inside JSON strings (a stray byte, a cut sequence,
-- an overlong form, an encoded surrogate, a bad byte in a key): each such line
-- goes to the dead-letter sink with the byte named, and its original bytes in
-- raw_base64 (they are not text); valid multi-byte text passes untouched.
local sl = require "sluice"
return sl.pipeline {
  name    = "utf8",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
