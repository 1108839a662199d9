-- %b over a long unbalanced subject, tried at every position.
-- expect: dead time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    local s = ("("):rep(200000)
    while true do s:find("%b()") end
  end
  return rec
end
