-- Coroutines inside coroutines without end.
-- expect: dead stack overflow
return function (rec)
  if rec.evil then
    local function f() return coroutine.wrap(f)() end f()
  end
  return rec
end
