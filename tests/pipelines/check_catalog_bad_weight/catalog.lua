-- Weights name the dimensions of GB/T 36344; a misspelt one is said.
local sl = require "sluice"
return sl.catalog { departments = {
  sl.department { id = "health", name = "卫健委", weights = { timelyness = 2 },
                  feeds = { sl.feed { name = "births", fields = { src_id = "string" } } } } } }
