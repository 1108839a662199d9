-- loadfile reads a file: not in the sandbox.
-- expect: dead global 'loadfile'
return function (rec)
  if rec.evil then
    loadfile("/etc/passwd")
  end
  return rec
end
