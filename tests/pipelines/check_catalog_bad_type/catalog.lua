-- An unknown type: said with the feed's line and the field.
local sl = require "sluice"
return sl.catalog { departments = { sl.department { id = "health", name = "卫健委", feeds = {
  sl.feed { name = "births",
            fields = { src_id = "string", births = "integer" } } } } } }
