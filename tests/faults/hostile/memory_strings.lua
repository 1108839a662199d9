-- Strings without end. Whichever budget runs out first.
-- expect: dead (memory budget of 32 MiB|time budget of 200 ms) exceeded
return function (rec)
  if rec.evil then
    local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(1000) .. i end
  end
  return rec
end
