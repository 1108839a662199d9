-- package.loadlib would load a shared object.
-- expect: dead loadlib
return function (rec)
  if rec.evil then
    package.loadlib("/lib/x86_64-linux-gnu/libc.so.6", "system")
  end
  return rec
end
