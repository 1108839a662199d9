-- A field larger than the memory budget allows.
-- expect: dead memory budget
return function (rec)
  if rec.evil then
    rec.big = ("x"):rep(1e8) return rec
  end
  return rec
end
