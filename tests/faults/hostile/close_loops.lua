-- A to-be-closed variable whose __close loops after an error.
-- expect: dead time budget
return function (rec)
  if rec.evil then
    local x <close> = setmetatable({}, { __close = function () while true do end end }) error("boom")
  end
  return rec
end
