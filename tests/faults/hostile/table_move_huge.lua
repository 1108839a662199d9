-- table.move over 10^15 nils: a loop in C that the memory budget does not
-- bound; sluice moves in slices and polls the time budget between them.
-- expect: dead time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    table.move({}, 1, 1e15, 2)
  end
  return rec
end
