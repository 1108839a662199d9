-- require does not leave the search path.
-- expect: dead not found
return function (rec)
  if rec.evil then
    require("../../../../etc/passwd")
  end
  return rec
end
