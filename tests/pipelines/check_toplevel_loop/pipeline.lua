-- A file whose top level never ends (coroutine ping-pong): `sluice check`
-- stops it at the load budget (10 s) and names the file and the line.
local sl = require "sluice"
local co = coroutine.wrap(function () while true do coroutine.yield() end end) while true do co() end
return sl.pipeline {
  sources = { sl.generate { count = 1 } },
  sinks   = { sl.stdout { format = "jsonl" } },
}
