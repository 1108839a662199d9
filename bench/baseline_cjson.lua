-- The baseline for bench case (b): plain Lua 5.4 + lua-cjson doing the same
-- work as the sluice step, one record at a time.
--   lua5.4 bench/baseline_cjson.lua < in.jsonl > out.jsonl
local cjson = require "cjson"
local decode, encode, upper = cjson.decode, cjson.encode, string.upper
local write = io.stdout.write
local stdout = io.stdout

stdout:setvbuf("full")
for line in io.stdin:lines() do
  local t = decode(line)
  t.name = upper(t.name)
  t.n = #t.dept
  write(stdout, encode(t), "\n")
end
stdout:flush()
