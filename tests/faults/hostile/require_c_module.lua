-- A C module loads only with a grant.
-- expect: dead module 'cjson' not found
return function (rec)
  if rec.evil then
    require("cjson")
  end
  return rec
end
