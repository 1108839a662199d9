-- pcall cannot catch the budget error.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    while true do pcall(function () while true do end end) end
  end
  return rec
end
