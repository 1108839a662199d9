-- A metatable with looping __pairs/__index on the record: records are userdata, their metatable is not the step's to set.
-- expect: dead table expected, got sl.record
return function (rec)
  if rec.evil then
    return setmetatable(rec, { __pairs = function () while true do end end, __index = function () while true do end end })
  end
  return rec
end
