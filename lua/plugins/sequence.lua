-- sequence: a source that counts, as an example of a source written in Lua.
--
--   sl.sequence { from = 1, to = 1000 }
--
-- Emits { n = from }, { n = from + 1 }, ... up to `to`, a batch at a time.
-- The checkpoint of each batch is its last number.  `ack` is called with it,
-- in order, once every record of the batch is durable downstream, and saves
-- it: a restarted pipeline goes on after the last durable number.
local sl = require "sluice"

return sl.plugin.source {
  name = "sequence",
  doc = "Counts from `from` to `to`, resuming after the last durable number (an example Lua source).",
  options = {
    from  = { type = "int", default = 1, doc = "First number." },
    to    = { type = "int", required = true, doc = "Last number." },
    field = { type = "string", default = "n", doc = "Field that holds the number." },
  },
  open = function (opts, ctx)
    local text = ctx.load()
    local saved = text and math.tointeger(tonumber(text:match("^%-?%d+$") or ""))
    -- A position that is no number, or outside from - 1 .. to, was edited or
    -- belongs to other options: a guess would count again or skip numbers.
    if text and (not saved or saved < opts.from - 1 or saved > opts.to) then
      ctx.corrupt(string.format("it holds %q, not the last number acknowledged, from %d to %d",
                                text:sub(1, 100), opts.from - 1, opts.to))
    end
    local next = saved and saved + 1 or opts.from
    if saved then sl.log.info("resuming after %d", saved) end
    return { next = next, to = opts.to, field = opts.field, ctx = ctx }
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
    state.ctx.save(tostring(checkpoint))
  end,
}
