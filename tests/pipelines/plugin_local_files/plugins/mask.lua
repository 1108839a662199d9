-- Shadows the shipped mask: upper-cases the fields instead.
local sl = require "sluice"
return sl.plugin.step {
  name = "mask",
  options = { fields = { type = "list", required = true } },
  new = function (opts)
    return function (rec)
      for _, f in ipairs(opts.fields) do rec[f] = rec[f]:upper() end
      return rec
    end
  end,
}
