-- os.execute is not in the sandbox.
-- expect: dead attempt to call a nil value
return function (rec)
  if rec.evil then
    os.execute("touch /tmp/sluice-pwned")
  end
  return rec
end
