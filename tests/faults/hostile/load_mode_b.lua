-- Asking load for binary mode changes nothing.
-- expect: dead attempt to load a binary chunk
return function (rec)
  if rec.evil then
    assert(load("\27Lua", "x", "b"))
  end
  return rec
end
