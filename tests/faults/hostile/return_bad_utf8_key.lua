-- A field name that is not UTF-8: written escaped (\u00ff), valid JSON.
-- expect: pass
return function (rec)
  if rec.evil then
    rec["\255\254"] = 1 return rec
  end
  return rec
end
