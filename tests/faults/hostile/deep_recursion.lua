-- Recursion without end: Lua's stack limit or the memory budget, whichever comes first (or the time budget, on a loaded machine).
-- expect: dead stack overflow|memory budget of 32 MiB exceeded|time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    local function f(n) return 1 + f(n + 1) end f(1)
  end
  return rec
end
