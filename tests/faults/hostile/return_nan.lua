-- NaN and infinity have no JSON form.
-- expect: dead cannot encode NaN
return function (rec)
  if rec.evil then
    rec.x = 0/0 rec.y = math.huge return rec
  end
  return rec
end
