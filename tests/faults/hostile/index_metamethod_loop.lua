-- A loop in __index.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    local t = setmetatable({}, { __index = function () while true do end end }) return t.x
  end
  return rec
end
