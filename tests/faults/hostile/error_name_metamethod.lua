-- An error object whose __name is not a string.
-- expect: dead error object is a table
return function (rec)
  if rec.evil then
    error(setmetatable({}, { __name = {} }))
  end
  return rec
end
