-- error(nil).
-- expect: dead nil
return function (rec)
  if rec.evil then
    error(nil)
  end
  return rec
end
