-- A field that is a function.
-- expect: dead cannot encode a function
return function (rec)
  if rec.evil then
    rec.f = print return rec
  end
  return rec
end
