-- Two feeds on one topic: which feed a record is of could not be told.
local sl = require "sluice"
return sl.catalog { departments = { sl.department { id = "health", name = "卫健委", feeds = {
  sl.feed { name = "births", topic = "health.births.v1", fields = { src_id = "string" } },
  sl.feed { name = "clinics", topic = "health.births.v1", fields = { name = "string" } } } } } }
