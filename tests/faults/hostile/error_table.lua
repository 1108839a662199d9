-- An error that is a table.
-- expect: dead error object is a table
return function (rec)
  if rec.evil then
    error({ code = 1 })
  end
  return rec
end
