-- A Lua keyed store (sl.stateful) counting records per department, in each
-- source's order: every record leaves with its running count, and at the
-- end of input finish emits one summary per department, after the input's
-- records.  Two runs on one state folder: the second reads nothing new
-- (the checkpoint is at the end), so finish is not called again and the
-- summary is in out.jsonl once.  A record without a department is a dead
-- letter that says why.
local sl = require "sluice"
return sl.pipeline {
  name       = "stateful-lua-finish",
  workers    = 3,
  batch_size = 4,
  sources    = { sl.file.source { name = "in", path = "in.jsonl", format = "jsonl" } },
  steps      = {
    function (rec)
      rec.dept = rec.dept and string.upper(rec.dept)
      return rec
    end,
    sl.stateful {
      name  = "counts",
      key   = "dept",
      apply = function (state, rec)
        state.n = (state.n or 0) + 1
        rec.count = state.n
        if rec.skip then return false end
      end,
      finish = function (keys, emit)
        local depts = {}
        for dept in pairs(keys) do depts[#depts + 1] = dept end
        table.sort(depts)
        for _, dept in ipairs(depts) do
          emit { summary = true, dept = dept, records = keys[dept].n }
        end
      end,
    },
  },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
