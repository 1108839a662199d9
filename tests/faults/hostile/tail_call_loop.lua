-- Endless tail calls use no stack.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    local function f() return f() end f()
  end
  return rec
end
