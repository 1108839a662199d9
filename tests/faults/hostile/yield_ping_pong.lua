-- A coroutine that yields forever to a loop that resumes it.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    local co = coroutine.wrap(function () while true do coroutine.yield() end end) while true do co() end
  end
  return rec
end
