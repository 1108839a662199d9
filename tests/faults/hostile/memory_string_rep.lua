-- One huge string.rep.
-- expect: dead resulting string too large|memory budget
return function (rec)
  if rec.evil then
    local s = ("x"):rep(2^40)
  end
  return rec
end
