-- sl.generate with a template function (seq) -> table: called once per
-- record; an error in it, or a result that is not a table, makes that
-- record a dead letter (stage generate.1, origin "generate", offset = seq).
local sl = require "sluice"
return sl.pipeline {
  name       = "generate-fn",
  batch_size = 3,
  sources    = {
    sl.generate {
      count = 7,
      template = function (seq)
        if seq == 4 then error("no record four") end
        if seq == 5 then return "five" end
        return { id = seq, square = seq * seq, even = seq % 2 == 0 }
      end,
    },
  },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
