-- A step that sets field `field` (default "tag") to `value`.
local sl = require "sluice"
return sl.plugin.step {
  name = "tag",
  options = {
    value = { type = "string", required = true, doc = "The value to set." },
    field = { type = "string", default = "tag", doc = "The field to set." },
  },
  new = function (opts)
    return function (rec) rec[opts.field] = opts.value return rec end
  end,
}
