-- A step that returns a number.
-- expect: dead step returned a number; expected a record
return function (rec)
  if rec.evil then
    return 42
  end
  return rec
end
