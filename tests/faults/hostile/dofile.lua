-- dofile reads and runs a file: not in the sandbox.
-- expect: dead global 'dofile'
return function (rec)
  if rec.evil then
    dofile("/etc/passwd")
  end
  return rec
end
