-- A misspelt cleansing rule: said by sl.clean's check, with the feed's line.
local sl = require "sluice"
return sl.catalog { departments = { sl.department { id = "health", name = "卫健委", feeds = {
  sl.feed { name = "births",
            fields = { src_id = "string", id_no = { type = "string", rule = "cn_idd" } } } } } } }
