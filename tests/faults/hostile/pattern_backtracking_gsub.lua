-- The same backtracking through gsub, with a lazy item.
-- expect: dead time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    rec.s = (("x"):rep(2000)):gsub((".-"):rep(6) .. "y", "")
  end
  return rec
end
