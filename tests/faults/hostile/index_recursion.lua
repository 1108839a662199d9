-- __index that indexes itself.
-- expect: dead stack overflow
return function (rec)
  if rec.evil then
    local t t = setmetatable({}, { __index = function (_, k) return t[k] end }) return t.x
  end
  return rec
end
