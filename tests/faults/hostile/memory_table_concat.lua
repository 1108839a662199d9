-- table.concat of many strings. Whichever budget runs out first (a busy machine may take 200 ms first).
-- expect: dead (memory budget of 32 MiB|time budget of 200 ms) exceeded
return function (rec)
  if rec.evil then
    local t = {} for i = 1, 1e7 do t[i] = "abcdefgh" end local s = table.concat(t)
  end
  return rec
end
