-- gsub callbacks calling gsub.
-- expect: dead stack overflow
return function (rec)
  if rec.evil then
    local function f(s) return (s:gsub(".", f)) end f("xx")
  end
  return rec
end
