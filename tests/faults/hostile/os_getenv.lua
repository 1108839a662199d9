-- The environment is read with sl.env at load only.
-- expect: dead attempt to call a nil value \(field 'getenv'\)
return function (rec)
  if rec.evil then
    os.getenv("HOME")
  end
  return rec
end
