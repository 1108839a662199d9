-- sluice check: a misspelt function of the sl.clean library names the file,
-- the line and the nearest name, not "attempt to call a nil value".
local sl = require "sluice"
local id = sl.clean.cn_idd("11010519491231002X")
return sl.pipeline {
  name    = "c",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
