-- io is not in the sandbox: no file can be read.
-- expect: dead global 'io'
return function (rec)
  if rec.evil then
    io.open("/etc/passwd"):read("a")
  end
  return rec
end
