-- sluice check: a domain names a schema, so it must be a plain identifier.
local sl = require "sluice"
local platform = require "sluice.platform"
return sl.pipeline {
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = platform.sinks { conninfo = "host=127.0.0.1 port=1", domain = "Person; drop" },
}
