-- require cannot hand out a library the sandbox left out.
-- expect: dead module 'io' not found
return function (rec)
  if rec.evil then
    require("io")
  end
  return rec
end
