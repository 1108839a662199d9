-- os.exit would end the process.
-- expect: dead attempt to call a nil value \(field 'exit'\)
return function (rec)
  if rec.evil then
    os.exit(0)
  end
  return rec
end
