-- An endless loop.
-- expect: dead time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    while true do end
  end
  return rec
end
