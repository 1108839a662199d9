-- The string metatable is protected: getmetatable("") gives false.
-- expect: dead attempt to index a boolean value
return function (rec)
  if rec.evil then
    getmetatable("").__index.upper = nil
  end
  return rec
end
