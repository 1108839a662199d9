-- Resuming new coroutines that each die of the budget.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    while true do coroutine.resume(coroutine.create(function () while true do end end)) end
  end
  return rec
end
