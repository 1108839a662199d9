-- sluice check: platform.sinks refuses options it does not know, and kinds
-- that are not sl.match's.
local sl = require "sluice"
local platform = require "sluice.platform"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = platform.sinks { conninfo = "host=127.0.0.1 port=1", domain = "person",
                           only = { "members" } },
}
