-- Restart consistency of a Lua keyed store: the second run reads the whole
-- file again (--reset-checkpoint, as after a crash before any checkpoint).
-- restore has rebuilt the counts and positions from counts.jsonl, and apply
-- skips every record at or before its department's position, so the replay
-- changes no count and writes no count line: counts.jsonl is what one run
-- wrote (the example of docs/pipelines.md, "After a restart").
local sl = require "sluice"
return sl.pipeline {
  name       = "stateful-lua-replay",
  workers    = 3,
  batch_size = 5,
  sources    = { sl.file.source { name = "in", path = "in.jsonl", format = "jsonl" } },
  steps      = {
    sl.stateful {
      name  = "dept-counts",
      key   = "dept",
      apply = function (state, rec)
        local at = rec:meta().offset
        if state.at and at <= state.at then return end
        state.n, state.at, state.changed = (state.n or 0) + 1, at, true
      end,
      batch_end = function (keys, touched, emit)
        local depts = {}
        for dept, state in pairs(touched) do
          if state.changed then depts[#depts + 1] = dept end
        end
        table.sort(depts)
        for _, dept in ipairs(depts) do
          local state = keys[dept]
          emit { count_of = dept, n = state.n, at = state.at }
          state.changed = nil
        end
      end,
      restore_from = "counts.jsonl",
      restore = function (keys, rec)
        if rec.count_of then keys[rec.count_of] = { n = rec.n, at = rec.at } end
      end,
    },
  },
  sinks      = { sl.file.sink { path = "counts.jsonl", format = "jsonl",
                                where = function (rec) return rec.count_of ~= nil end } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
