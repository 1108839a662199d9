-- The default sandbox: os.execute, os.getenv and the io library are not
-- there, so calling them is a plain Lua error and the record goes to the
-- dead-letter sink; os.time and os.date, which are safe, work.
local sl = require "sluice"
return sl.pipeline {
  name    = "sandbox",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      if rec.try == "execute" then os.execute("touch pwned") end
      if rec.try == "open" then io.open("pwned", "w") end
      if rec.try == "getenv" then rec.home = os.getenv("HOME") end
      if rec.try == "time" then rec.t = math.type(os.time()) end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
