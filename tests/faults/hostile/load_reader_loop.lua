-- load's reader function loops.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    load(function () while true do end end)
  end
  return rec
end
