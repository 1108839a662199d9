-- A loop ten coroutines deep.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    local function dive(n) if n == 0 then while true do end end return coroutine.wrap(function () return dive(n - 1) end)() end dive(10)
  end
  return rec
end
