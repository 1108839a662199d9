-- Stopping the collector does not lift the memory budget. Whichever budget runs out first (a busy machine may take 200 ms first).
-- expect: dead (memory budget of 32 MiB|time budget of 200 ms) exceeded
return function (rec)
  if rec.evil then
    collectgarbage("stop"); local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(1e5) .. i end
  end
  return rec
end
