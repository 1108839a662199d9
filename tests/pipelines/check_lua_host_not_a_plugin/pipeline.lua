-- sluice check: the plugin that runs Lua sources (lua.source, capability
-- SL_CAN_HOST_LUA) has no constructor of its own: sl.lua.source is an
-- unknown plugin, said with the file and line of the use.
local sl = require "sluice"
return sl.pipeline {
  name    = "c",
  sources = { sl.lua.source {} },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
}
