-- A loop in table.sort's comparator (inside C).
-- expect: dead time budget
return function (rec)
  if rec.evil then
    table.sort({3, 2, 1}, function () while true do end end)
  end
  return rec
end
