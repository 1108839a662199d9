-- An error object whose __tostring raises.
-- expect: dead error
return function (rec)
  if rec.evil then
    error(setmetatable({}, { __tostring = function () error("again") end }))
  end
  return rec
end
