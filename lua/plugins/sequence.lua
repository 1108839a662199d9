-- sequence: a source that counts, as an example of a source written in Lua.
--
--   sl.sequence { from = 1, to = 1000 }
--
-- Emits { n = from }, { n = from + 1 }, ... up to `to`, a batch at a time.
-- The checkpoint of each batch is its last number; `ack` is called with it,
-- in order, once every record of the batch is durable downstream.  A real
-- source would save it (a Lua source's state lives as long as the pipeline).
local sl = require "sluice"

return sl.plugin.source {
  name = "sequence",
  doc = "Counts from `from` to `to` (an example Lua source).",
  options = {
    from = { type = "int", default = 1, doc = "First number." },
    to   = { type = "int", required = true, doc = "Last number." },
    field = { type = "string", default = "n", doc = "Field that holds the number." },
  },
  open = function (opts)
    return { next = opts.from, to = opts.to, field = opts.field, acked = opts.from - 1 }
  end,
  read = function (state, max)
    if state.next > state.to then return nil end          -- the end
    local batch = {}
    local last = math.min(state.next + max - 1, state.to)
    for n = state.next, last do batch[#batch + 1] = { [state.field] = n } end
    state.next = last + 1
    return batch, last
  end,
  ack = function (state, checkpoint)
    state.acked = checkpoint
  end,
}
