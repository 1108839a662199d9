-- A loop in a gsub callback (inside C).
-- expect: dead time budget
return function (rec)
  if rec.evil then
    ("x"):gsub("x", function () while true do end end)
  end
  return rec
end
