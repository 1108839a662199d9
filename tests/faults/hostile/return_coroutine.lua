-- A field that is a coroutine.
-- expect: dead cannot encode a thread
return function (rec)
  if rec.evil then
    rec.co = coroutine.create(print) return rec
  end
  return rec
end
