-- debug would reach the registry and the hooks.
-- expect: dead global 'debug'
return function (rec)
  if rec.evil then
    debug.getregistry()
  end
  return rec
end
