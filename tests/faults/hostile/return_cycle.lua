-- A record that contains itself.
-- expect: dead cannot encode a cyclic table
return function (rec)
  if rec.evil then
    local t = { id = rec.id } t.self = t return t
  end
  return rec
end
