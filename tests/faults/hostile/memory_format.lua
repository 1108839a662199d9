-- string.format with a huge width.
-- expect: dead invalid conversion
return function (rec)
  if rec.evil then
    string.format("%0999999999d", 1)
  end
  return rec
end
