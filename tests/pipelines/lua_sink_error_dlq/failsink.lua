-- A sink that refuses a batch holding a record with bad = true.
local sl = require "sluice"
return sl.plugin.sink {
  name = "failsink",
  write = function (state, records)
    for i = 1, #records do
      if records[i].bad then error("cannot store id " .. records[i].id, 0) end
    end
  end,
}
