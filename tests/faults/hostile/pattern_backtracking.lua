-- A pattern that backtracks for hours (eight a* over 3000 a's, no b): Lua's
-- matcher runs in C where the budget's hook never fires; sluice's own
-- (runtime/lua/pattern.c) polls the budget.
-- expect: dead time budget of 200 ms exceeded
return function (rec)
  if rec.evil then
    rec.at = string.find(("a"):rep(3000), ("a*"):rep(8) .. "b")
  end
  return rec
end
