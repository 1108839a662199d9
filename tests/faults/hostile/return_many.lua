-- A batch of records without end. Whichever budget runs out first (a busy machine may take 200 ms first).
-- expect: dead (memory budget of 32 MiB|time budget of 200 ms) exceeded
return function (rec)
  if rec.evil then
    local out = {} for i = 1, 1e8 do out[i] = { id = i } end return out
  end
  return rec
end
