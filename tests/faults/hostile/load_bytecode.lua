-- A binary chunk can break the VM's memory safety: load takes text only.
-- expect: dead attempt to load a binary chunk
return function (rec)
  if rec.evil then
    assert(load("\27LuaT\0\25\147\13\10\26\10\4\8\8"))
  end
  return rec
end
