-- One feed, keyed, with its event time in reported_at.
local sl = require "sluice"
return sl.catalog {
  timezone = "+08:00",
  departments = {
    sl.department { id = "health", name = "卫健委", feeds = {
      sl.feed { name = "births", key = "src_id", time = "reported_at",
                fields = { src_id      = { type = "string", required = true },
                           reported_at = "timestamp",
                           births      = "int",
                           district    = { type = "string", rule = { "trim", "nfkc" } },
                           id_no       = { type = "string", rule = "cn_id", sensitive = true } },
                weights = { timeliness = 2 } } } },
  },
}
