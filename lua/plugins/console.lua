-- console: a sink that writes each record to sluice's log, as an example of a
-- sink written in Lua (and a way to watch a stream while debugging).
--
--   sl.console { level = "info", prefix = "resident" }
--
-- A Lua sink acknowledges a batch by returning from write; an error sends the
-- batch to the dead-letter sink with the message.
local sl = require "sluice"

return sl.plugin.sink {
  name = "console",
  doc = "Logs every record as JSON (an example Lua sink).",
  options = {
    level  = { type = "enum", choices = { "debug", "info", "warn", "error" }, default = "info",
               doc = "Log level." },
    prefix = { type = "string", default = "", doc = "Text put before each record." },
  },
  open = function (opts)
    return { log = sl.log[opts.level], prefix = opts.prefix, count = 0 }
  end,
  write = function (state, records)
    for i = 1, #records do
      state.log(state.prefix .. tostring(records[i]))
    end
    state.count = state.count + #records
  end,
}
