-- An error object whose __tostring loops.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    error(setmetatable({}, { __tostring = function () while true do end end }))
  end
  return rec
end
