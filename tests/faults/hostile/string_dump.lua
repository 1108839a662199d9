-- string.dump would make bytecode: not in the sandbox.
-- expect: dead attempt to call a nil value \(field 'dump'\)
return function (rec)
  if rec.evil then
    string.dump(function () end)
  end
  return rec
end
