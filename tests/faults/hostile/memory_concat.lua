-- Doubling a string. Whichever budget runs out first (a busy machine may take 200 ms first).
-- expect: dead (memory budget of 32 MiB|time budget of 200 ms) exceeded
return function (rec)
  if rec.evil then
    local s = "x" while true do s = s .. s end
  end
  return rec
end
