-- An error whose message is too big to make.
-- expect: dead memory budget
return function (rec)
  if rec.evil then
    error(("x"):rep(1e9))
  end
  return rec
end
