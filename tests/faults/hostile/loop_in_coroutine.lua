-- A loop inside a coroutine.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    coroutine.wrap(function () while true do end end)()
  end
  return rec
end
