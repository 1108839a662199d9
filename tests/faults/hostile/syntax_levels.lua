-- A chunk nested too deep to parse.
-- expect: dead C stack overflow|too many \w+ levels
return function (rec)
  if rec.evil then
    assert(load("return " .. ("("):rep(1e5) .. "1" .. (")"):rep(1e5)))
  end
  return rec
end
