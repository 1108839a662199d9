-- Yield from the step, outside any coroutine.
-- expect: dead attempt to yield from outside a coroutine
return function (rec)
  if rec.evil then
    coroutine.yield(1)
  end
  return rec
end
