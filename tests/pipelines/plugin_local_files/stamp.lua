-- A step that marks each record: stamped = true.
local sl = require "sluice"
return sl.plugin.step {
  name = "stamp",
  new = function ()
    return function (rec) rec.stamped = true return rec end
  end,
}
