-- Recursion through pcall (C stack).
-- expect: dead stack overflow
return function (rec)
  if rec.evil then
    local function f() local ok, e = pcall(f) if not ok then error(e, 0) end end f()
  end
  return rec
end
