-- Strings' metatable cannot be replaced.
-- expect: dead table expected
return function (rec)
  if rec.evil then
    setmetatable("", {})
  end
  return rec
end
