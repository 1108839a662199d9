-- A small catalog: one department, two feeds, one of them keyed.
local sl = require "sluice"
return sl.catalog {
  timezone = "+08:00",
  departments = {
    sl.department { id = "health", name = "卫健委",
      feeds = {
        sl.feed { name = "births", topic = "health.births.v1", key = "src_id",
                  schedule = "daily by 02:00", time = "reported_at",
                  fields = { src_id      = { type = "string", required = true },
                             reported_at = "timestamp",
                             births      = "int",
                             district    = { type = "string", rule = { "trim", "nfkc" } },
                             id_no       = { type = "string", rule = "cn_id", sensitive = true } } },
        sl.feed { name = "clinics", fields = { name = { type = "string", required = true } } },
      } },
  },
}
