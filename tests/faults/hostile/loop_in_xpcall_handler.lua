-- A message handler that loops is stopped too.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    xpcall(function () while true do end end, function () while true do end end)
  end
  return rec
end
