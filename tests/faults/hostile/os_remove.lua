-- os.remove would delete a file.
-- expect: dead attempt to call a nil value \(field 'remove'\)
return function (rec)
  if rec.evil then
    os.remove("/tmp/x")
  end
  return rec
end
