-- table.unpack of a huge range.
-- expect: dead too many results to unpack
return function (rec)
  if rec.evil then
    table.unpack({}, 1, 1e8)
  end
  return rec
end
