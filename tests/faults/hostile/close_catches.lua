-- pcall around a __close that loops.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    while true do pcall(function () local x <close> = setmetatable({}, { __close = function () while true do end end }) end) end
  end
  return rec
end
