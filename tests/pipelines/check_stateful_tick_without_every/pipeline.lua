-- sluice check: a tick without its interval (every) is refused, with
-- where it is.
local sl = require "sluice"
return sl.pipeline {
  name    = "check-stateful-tick",
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = {
    sl.stateful {
      key   = "dept",
      apply = function (state, rec) state.n = (state.n or 0) + 1 end,
      tick  = function (keys, now_ms, emit) end,
    },
  },
  sinks   = { sl.stdout {} },
}
