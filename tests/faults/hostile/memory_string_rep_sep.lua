-- string.rep with a separator.
-- expect: dead resulting string too large|memory budget
return function (rec)
  if rec.evil then
    local s = ("ab"):rep(1e9, ",")
  end
  return rec
end
