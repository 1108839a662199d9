-- An inconsistent comparator.
-- expect: dead invalid order function
return function (rec)
  if rec.evil then
    local t = {} for i = 1, 1000 do t[i] = i end table.sort(t, function () return true end)
  end
  return rec
end
