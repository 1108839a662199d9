-- The pattern work of a cleansing step, N times: trim, an ID number, strip
-- separators, split into words, a plain find.  bench/pattern_run runs it
-- under plain Lua 5.4 (Lua's string library) and in a sluice step (its own
-- matcher, runtime/lua/pattern.c).  Returns the seconds of CPU and a count
-- that both must agree on.
return function (times)
  local s = "  Zhang San, 110101199003074477, +86 138-0013-8000, 北京市东城区东四十条 ...  "
  local n = 0
  local t0 = os.clock()
  for _ = 1, times do
    local a = s:match("^%s*(.-)%s*$")
    local id = s:match("(%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d[%dXx])")
    local p = s:gsub("[%s%-]", "")
    for w in s:gmatch("%w+") do n = n + 1 end
    if s:find("北京", 1, true) then n = n + 1 end
  end
  return os.clock() - t0, n
end
