-- Removing the budget's hook needs debug.
-- expect: dead global 'debug'
return function (rec)
  if rec.evil then
    debug.sethook()
  end
  return rec
end
