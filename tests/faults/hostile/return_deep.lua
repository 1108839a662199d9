-- A record nested 100000 deep.
-- expect: dead nested too deeply
return function (rec)
  if rec.evil then
    local t = {} local root = t for _ = 1, 1e5 do t.x = {} t = t.x end return root
  end
  return rec
end
