-- io.popen would run a command.
-- expect: dead global 'io'
return function (rec)
  if rec.evil then
    io.popen("id")
  end
  return rec
end
