-- The same backtracking through gmatch, in a loop the script controls.
-- expect: dead time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    for _ in (("ab"):rep(1500)):gmatch(("%w*"):rep(5) .. "!") do end
  end
  return rec
end
