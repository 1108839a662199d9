-- Cleansing applied twice gives the same result as once: the second step
-- has the same rules as the first, and every field it sees must be valid
-- as it is (nothing left to fix).  The Lua step fails the record otherwise.
local sl = require "sluice"
local rules = {
  id_no  = "cn_id",
  name   = { "trim", "nfkc", "casefold", "t2s" },
  phone  = "cn_phone_display",
  birth  = { "date", output = "date" },
  addr   = "cn_address",
  credit = "uscc",
  when   = "datetime",
  masked = { "mask_id", from = "id_no" },
}
return sl.pipeline {
  name    = "clean-idempotent",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.clean { fields = rules, name = "once" },
    sl.clean { fields = rules, name = "twice" },
    function (rec)
      for field, o in pairs(rec:meta().clean) do
        assert(o.stage == "twice", "outcome from " .. tostring(o.stage))
        if o.outcome ~= "valid" and o.outcome ~= "missing" then
          error(field .. " changed on the second pass: " .. o.outcome)
        end
      end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
