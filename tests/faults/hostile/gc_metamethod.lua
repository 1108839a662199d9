-- A __gc finalizer could run outside any budget.
-- expect: dead __gc
return function (rec)
  if rec.evil then
    setmetatable({}, { __gc = function () while true do end end })
  end
  return rec
end
